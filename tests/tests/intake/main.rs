//! Email intake end to end: raw messages through the API (and the mailbox reader) against
//! real Postgres and RabbitMQ.

mod api;
mod imap;
mod limits;
