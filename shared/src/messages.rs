//! What travels through RabbitMQ: small messages naming a request and the work to do on it,
//! never documents or personal data. The database row is the truth; a message only says
//! "look at this request now".

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::names::Named;
use uuid::Uuid;

/// A stage of the pipeline; each has one queue and one worker role.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Checks that a request has what its policy requires; an incomplete one goes to `needs_info`.
    Validate,
    /// Applies the merchant's policy to a complete request and records the decision.
    Decide,
    /// Sends an approved refund through the payment gateway, never twice.
    Payout,
    /// Sends the customer the email for a step of their request.
    Notify,
    /// Signed webhooks to merchants that configured one.
    Webhook,
}

impl Stage {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Stage] = <Stage as strum::VariantArray>::VARIANTS;

    /// The snake_case name, also the last part of the queue name and routing key.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The routing key on the work exchange that reaches this stage's queue.
    pub fn routing_key(self) -> String {
        format!("request.{}", self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::parse_named(s, "stage")
    }
}

/// "Do `stage` work on this request." `version` is the request version the sender saw, so a
/// handler can tell an old message from a new one; `event` names what a notification is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkMessage {
    /// Unique per message (UUIDv7); consumers use it to skip a redelivered message.
    pub message_id: Uuid,
    /// The stage that is to do the work.
    pub stage: Stage,
    /// The request to work on (for notify events about an inbound email with no request, that
    /// email's id).
    pub request_id: Uuid,
    /// The request version the sender saw, if it matters to the handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// What a notify message is about, e.g. `received` or `sla_at_risk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}

impl WorkMessage {
    /// A message for `stage` about `request_id`, with a fresh id and no version or event.
    pub fn new(stage: Stage, request_id: Uuid) -> Self {
        Self {
            message_id: Uuid::now_v7(),
            stage,
            request_id,
            version: None,
            event: None,
        }
    }

    /// Sets the request version the sender saw.
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets the event a notify message is about.
    pub fn with_event(mut self, event: impl Into<String>) -> Self {
        self.event = Some(event.into());
        self
    }
}
