fn main() {
    // sqlx::migrate! embeds the migrations: a new or edited file must rebuild this crate.
    println!("cargo:rerun-if-changed=../migrations");
}
