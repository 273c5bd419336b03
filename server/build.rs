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

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Stops the build with one line on stderr (cargo shows it), instead of a panic's backtrace.
fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// The dashboard's browser half needs the toolchain's standard library for wasm32. rustup does
/// not add `rust-toolchain.toml`'s `targets` to a toolchain that is already installed, so a
/// fresh machine with the toolchain but not the target would fail deep inside the wasm build
/// (`can't find crate for core`): add it here when rustup is there, or say what to run.
fn ensure_wasm_target(root: &Path) {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_else(|| fail("could not run `rustc --print sysroot` to find the wasm32 standard library"));
    let rustlib = sysroot.join("lib").join("rustlib");
    // Re-run when targets are added or removed (the directory's tree is scanned).
    println!("cargo:rerun-if-changed={}", rustlib.display());
    if rustlib.join(WASM_TARGET).join("lib").is_dir() {
        return;
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let mut add = Command::new("rustup");
    add.current_dir(root).args(["target", "add", WASM_TARGET]);
    if let Some(t) = &toolchain {
        add.args(["--toolchain", t]);
    }
    println!("cargo:warning=adding the {WASM_TARGET} target to the toolchain (the dashboard is built for it)");
    let added = add.status().is_ok_and(|s| s.success()) && rustlib.join(WASM_TARGET).join("lib").is_dir();
    if !added {
        let toolchain = toolchain.map(|t| format!(" --toolchain {t}")).unwrap_or_default();
        fail(&format!(
            "the dashboard is built for {WASM_TARGET}, which this toolchain lacks: run `rustup target add {WASM_TARGET}{toolchain}`"
        ));
    }
}

/// Moves the files of `fresh` into `dir`, replacing only those whose content changed, so that
/// a re-run of this script that produces the same dashboard does not make cargo rebuild the
/// crate that embeds it.
fn replace_changed(fresh: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("create $OUT_DIR/pkg");
    for entry in std::fs::read_dir(fresh).expect("read the new dashboard files") {
        let entry = entry.expect("a dashboard file");
        let target = dir.join(entry.file_name());
        let new = std::fs::read(entry.path()).expect("read a new dashboard file");
        if std::fs::read(&target).ok().as_ref() != Some(&new) {
            std::fs::rename(entry.path(), &target).expect("move a dashboard file into place");
        }
    }
    let _ = std::fs::remove_dir_all(fresh);
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the server crate sits in the workspace").to_path_buf();
    // The browser half is the dashboard and the contract's records (`wire`, without its keys).
    for path in [
        "dashboard/src",
        "dashboard/style",
        "dashboard/Cargo.toml",
        "wire/src",
        "wire/Cargo.toml",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        // Relative to this crate: a second checkout sharing the target directory is checked
        // against its own files, not against those of the checkout that ran this first.
        println!("cargo:rerun-if-changed=../{path}");
    }
    ensure_wasm_target(&root);
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
    let pkg = out.join("pkg.new");
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::create_dir_all(&pkg).expect("create $OUT_DIR/pkg.new");
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
    replace_changed(&pkg, &out.join("pkg"));
}
