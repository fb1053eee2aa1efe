//! Applications through the real pipeline (API, outbox relay, RabbitMQ, validate and decide
//! workers) against real Postgres and RabbitMQ: what the customer and support would see.

mod decisions;
mod emails;
mod identity;
mod scan;
mod sla;
mod webhook;
