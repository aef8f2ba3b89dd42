//! Corpus manifests: any text gives a manifest or a one-line error that
//! names the file.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|text: &str| {
    let file = Path::new("/nonexistent/corpus.toml");
    if let Err(e) = turnkey::corpus::manifest::parse(file, text, None) {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
        assert!(e.starts_with("/nonexistent/corpus.toml"), "{e:?}");
    }
});
