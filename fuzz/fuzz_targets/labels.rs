//! The `# labels:` line and `//!` docs: any text gives a header or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(h) = turnkey::script::header::parse_header(text) {
        // Line numbers are kept: the source has as many lines as the text.
        assert_eq!(h.source.lines().count(), text.lines().count());
    }
});
