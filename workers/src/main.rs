//! `refundd`: one binary, every role.
fn main() {}
