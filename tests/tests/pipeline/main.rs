//! The pipeline's guarantees against real Postgres and RabbitMQ: the audit trail is
//! append-only, stale writers fail, the outbox relay publishes everything exactly once in
//! effect, and consumers retry, park and shut down as promised.

mod audit;
mod consumer;
mod parking;
mod process;
mod relay;
mod scans;
mod support;
mod sweep;
