//! The ONNX interface reader: any bytes give a model interface or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|bytes: &[u8]| {
    // Through a file, as users give it (tmpfs keeps it fast).
    let mut f = tempfile::Builder::new()
        .suffix(".onnx")
        .tempfile_in("/dev/shm")
        .unwrap();
    f.write_all(bytes).unwrap();
    let _ = turnkey::onnx::read_model_io(f.path());
});
