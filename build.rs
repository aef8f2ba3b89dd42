//! Lists stdlib/*.rhai for the binary: each file is compiled in, and joins
//! the module named by its stem up to the first '_' (stdlib/vision_swin.rhai
//! is part of `vision::`), so adding a family is adding a file.

use std::fmt::Write;

fn main() {
    let dir = std::path::Path::new("stdlib");
    println!("cargo:rerun-if-changed=stdlib");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("stdlib/ folder")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "rhai").then(|| p.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    // The module's main file first (its helpers may be used by the others), then by name.
    files.sort_by_key(|f| (f.contains('_'), f.clone()));
    let mut out = String::from("&[\n");
    for f in &files {
        println!("cargo:rerun-if-changed=stdlib/{f}.rhai");
        let module = f.split('_').next().unwrap();
        writeln!(
            out,
            "    (\"{module}\", \"{f}\", include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/stdlib/{f}.rhai\"))),"
        )
        .unwrap();
    }
    out.push(']');
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("stdlib_files.rs");
    std::fs::write(dest, out).unwrap();
}
