//! Builds the dashboard's browser half, so that `cargo run -p northstar-server` (and `cargo
//! build`, `cargo test`, the container build) produce one binary with the dashboard inside.
//!
//! 1. `cargo build -p northstar-dashboard --lib --target wasm32-unknown-unknown --features
//!    hydrate` into its own target directory (`<target>/dashboard-wasm`, so it neither waits on
//!    this build's lock nor shares its feature set), with the `wasm-release` profile for
//!    release builds;
//! 2. wasm-bindgen (the library the CLI is made of, pinned to the `wasm-bindgen` crate's exact
//!    version in the workspace) writes `dashboard.js` and `dashboard_bg.wasm` to
//!    `$OUT_DIR/pkg`, which `src/dashboard.rs` embeds.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the server crate sits in the workspace").to_path_buf();
    for path in ["dashboard/src", "dashboard/style", "dashboard/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let (profile_flag, profile_dir) = if release { ("wasm-release", "wasm-release") } else { ("dev", "debug") };

    // The outer target directory is the nearest ancestor of OUT_DIR that cargo tagged.
    let target =
        out.ancestors().find(|p| p.join("CACHEDIR.TAG").is_file()).map_or_else(|| out.clone(), Path::to_path_buf);
    let wasm_target = target.join("dashboard-wasm");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args(["build", "-p", "northstar-dashboard", "--lib", "--target", "wasm32-unknown-unknown"])
        .args(["--no-default-features", "--features", "hydrate", "--profile", profile_flag])
        .env("CARGO_TARGET_DIR", &wasm_target);
    // Flags meant for this (host) build must not reach the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        build.env_remove(var);
    }
    if env::var_os("CARGO_NET_OFFLINE").is_some() {
        build.arg("--offline");
    }
    let status = build.status().expect("run cargo for the dashboard's wasm build");
    assert!(status.success(), "building the dashboard for wasm32-unknown-unknown failed (see above)");

    let wasm = wasm_target.join("wasm32-unknown-unknown").join(profile_dir).join("northstar_dashboard.wasm");
    let pkg = out.join("pkg");
    std::fs::create_dir_all(&pkg).expect("create $OUT_DIR/pkg");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .out_name("dashboard")
        .typescript(false)
        // Release: no function names or tool versions in what every browser downloads.
        .remove_name_section(release)
        .remove_producers_section(release)
        .web(true)
        .and_then(|b| b.generate(&pkg))
        .unwrap_or_else(|e| panic!("wasm-bindgen on {}: {e:#}", wasm.display()));
}
