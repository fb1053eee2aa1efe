//! The refund-processing library: domain rules (money, calendars, policies, identity,
//! lifecycle, messages) and the adapters every `refundd` role uses (db, broker, config,
//! telemetry).

#![warn(missing_docs)]

pub mod api_keys;
pub mod bank_details;
pub mod broker;
pub mod calendar;
pub mod cards;
pub mod config;
pub mod console_sessions;
pub mod db;
pub mod documents;
pub mod gateway;
pub mod gateway_notifications;
pub mod html;
pub mod identity;
pub mod inbound_emails;
pub mod intake;
pub mod language;
pub mod lifecycle;
pub mod merchants;
pub mod messages;
pub mod money;
pub mod names;
pub mod notifications;
pub mod notify;
pub mod outbox;
pub mod payments;
pub mod payout_person;
pub mod payouts;
pub mod policy;
pub mod reconcile;
pub mod requests;
pub mod sla;
pub mod telemetry;
pub mod transition;
