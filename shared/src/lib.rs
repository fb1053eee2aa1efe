//! The refund-processing library: domain rules (money, calendars, policies, identity,
//! lifecycle, messages) and the adapters every `refundd` role uses (db, broker, config,
//! telemetry).

pub mod calendar;
pub mod money;
pub mod policy;
