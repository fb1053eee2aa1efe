//! The roles of `refundd` as a library, so the binary stays thin and tests run the same code
//! in-process: the HTTP API, the worker roles, the email intake they share, the signal
//! handling, and [`app`], the one place a process is put together.
//!
//! `api` and `roles` never import each other: both use `intake` and `shared`; only `app`
//! knows them all.

pub mod api;
pub mod app;
pub mod demo;
pub mod intake;
pub mod roles;
pub mod signals;
