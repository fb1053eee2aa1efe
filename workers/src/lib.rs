//! The roles of `refundd` as a library, so the binary stays thin and tests run the same code
//! in-process: the HTTP API, the worker roles and the signal handling they share.

pub mod api;
pub mod demo;
pub mod roles;
pub mod signals;
