//! Lists the migrations for `src/migrations.rs` to embed, as `sqlx::migrate!` would: each file
//! `<version>_<description>.sql` of `migrations/postgres` and `migrations/sqlite`, in version
//! order, the description with `_` read as a space. Done here rather than by the macro, whose
//! proc-macro crate compiles sqlx's drivers (and bundled SQLite) a second time for the host.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("../migrations");
    // A new or edited migration must rebuild this crate (cargo scans the directory's tree).
    println!("cargo:rerun-if-changed={}", root.display());
    let mut out = String::new();
    for (name, backend) in [("POSTGRES", "postgres"), ("SQLITE", "sqlite")] {
        let dir = root.join(backend);
        // Writing to a `String` cannot fail.
        let _ = writeln!(out, "/// `migrations/{backend}`: (version, description, SQL), in version order.");
        let _ = writeln!(out, "pub(crate) const {name}: &[(i64, &str, &str)] = &[");
        for (version, description, path) in migrations(&dir) {
            let _ = writeln!(out, "    ({version}, {description:?}, include_str!({:?})),", path.display().to_string());
        }
        out.push_str("];\n");
    }
    let target = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("migrations.rs");
    std::fs::write(target, out).expect("write $OUT_DIR/migrations.rs");
}

fn migrations(dir: &Path) -> Vec<(i64, String, PathBuf)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = name.strip_suffix(".sql") else { continue };
        assert!(
            !stem.ends_with(".up") && !stem.ends_with(".down"),
            "{name}: reversible migrations are not supported; write a new migration instead"
        );
        let (version, description) =
            stem.split_once('_').unwrap_or_else(|| panic!("{name}: not <version>_<description>.sql"));
        let version: i64 = version.parse().unwrap_or_else(|e| panic!("{name}: the version is not a number: {e}"));
        let path = path.canonicalize().expect("canonical path");
        found.push((version, description.replace('_', " "), path));
    }
    found.sort_by_key(|m| m.0);
    assert!(found.windows(2).all(|w| w[0].0 != w[1].0), "{}: two migrations share a version", dir.display());
    found
}
