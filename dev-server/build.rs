//! The local server serves every function crate it depends on (`../functions/*` in its
//! manifest): this writes the list, as one `functions!(…)` invocation, for `src/lib.rs` to
//! include, so adding a function to the local server is adding its dependency line.

use std::path::Path;

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo");
    let manifest_path = Path::new(&manifest_dir).join("Cargo.toml");
    println!("cargo::rerun-if-changed={}", manifest_path.display());
    let manifest = std::fs::read_to_string(&manifest_path).expect("dev-server/Cargo.toml");
    let manifest: toml::Table = toml::from_str(&manifest).expect("dev-server/Cargo.toml is TOML");
    let dependencies = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .expect("[dependencies]");
    let functions: Vec<String> = dependencies
        .iter()
        .filter(|(_, spec)| {
            spec.get("path")
                .and_then(toml::Value::as_str)
                .is_some_and(|path| path.starts_with("../functions/"))
        })
        .map(|(name, _)| name.replace('-', "_"))
        .collect();
    let out = Path::new(&std::env::var("OUT_DIR").expect("set by cargo")).join("functions.rs");
    std::fs::write(out, format!("functions!({});\n", functions.join(", "))).expect("OUT_DIR");
}
