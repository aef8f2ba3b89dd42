//! `--script-args` text: any string parses or is a one-line error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(e) = turnkey::script::ScriptArgs::parse(text) {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
    }
});
