//! The ONNX interface reader: any bytes give a model interface or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = turnkey::onnx::model_io_from_bytes(bytes);
});
