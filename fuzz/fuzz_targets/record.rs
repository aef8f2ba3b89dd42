//! record.json: any bytes load as a record or a clear error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(r) = turnkey::cache::record::Record::from_json(bytes, Path::new("record.json")) {
        // What loads must write back and load again.
        let again = turnkey::cache::record::Record::from_json(&r.to_json(), Path::new("r"));
        assert!(again.is_ok());
    }
});
