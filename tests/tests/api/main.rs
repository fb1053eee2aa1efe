//! The HTTP API against a real database: roles, idempotency, pagination, problem details,
//! the decisions people make on requests, SLA figures and the dashboard.

mod applications;
mod auth;
mod console;
mod console_browser;
mod conventions;
mod dashboard;
mod demo;
mod errors;
mod hardening;
mod helpers;
mod merchant_keys;
mod metrics;
mod sla;
