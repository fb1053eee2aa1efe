//! One-shot tools for support agents and operators, run as `refundd <tool>`.

pub mod calendar;
pub mod check_document;
pub mod policies;
pub mod quote;
pub mod read_document;
pub mod sandbox_gateway;
