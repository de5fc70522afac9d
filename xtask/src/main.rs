//! `cargo xtask wiring` writes what the route table and each function's declaration decide:
//! the `cargo lambda watch` router in the workspace manifest and every routed function's
//! block of `template.yaml` (its binary, variables, permissions, HTTP API events and log
//! group), each between its markers. `cargo xtask wiring --check` fails if either is stale
//! (a test of this crate runs the same check).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["wiring"] => false,
        ["wiring", "--check"] => true,
        _ => bail!("usage: cargo xtask wiring [--check]"),
    };
    let stale = xtask::write_wiring(&workspace_root(), check)?;
    if check && !stale.is_empty() {
        bail!(
            "stale: {}; run `cargo xtask wiring`",
            stale
                .iter()
                .map(|path| path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for path in stale {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the workspace root")
        .unwrap_or_else(|_| PathBuf::from("."))
}
