//! Email intake end to end: raw messages through the API (and the mailbox reader) against
//! real Postgres and RabbitMQ, and who may act through an email (`sender`).

mod api;
mod imap;
mod limits;
mod reader_corpus;
mod sender;
