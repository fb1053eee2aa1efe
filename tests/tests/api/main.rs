//! The HTTP API against a real database: roles, idempotency, pagination, problem details,
//! and the decisions people make on requests.

mod applications;
mod auth;
mod errors;
mod helpers;
mod metrics;
