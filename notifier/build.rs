//! The migrations are embedded at compile time (`sqlx::migrate!`, `#[sqlx::test(migrations)]`):
//! a new or changed migration must rebuild this crate, or a binary would miss it.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
