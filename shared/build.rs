//! Rebuilds the crate when a migration is added or changed: `sqlx::migrate!` embeds
//! `migrations/` at compile time, and cargo does not watch that folder by itself (a new
//! migration would otherwise be missing from a build that was already up to date).

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
