//! The worker roles: each consumes one stage's messages (validate, decide, payout, notify,
//! webhook) or runs on its own (the relay, the SLA monitor). `crate::app` starts them; every
//! role stops on the shared shutdown token and finishes its work in flight first.

pub mod assessment;
pub mod decide;
pub mod guess;
pub mod notify;
pub mod payout;
pub mod scans;
pub mod sla;
pub mod sweep;
pub mod validate;
pub mod webhook;

/// A worker role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Role {
    /// Check what the policy requires (facts, documents, window) and pass complete requests on.
    Validate,
    /// Apply the merchant's refund policy and record the decision.
    Decide,
    /// Refund the original card through the payment gateway, never twice.
    Payout,
    /// Email the customer about each step.
    Notify,
    /// Publish committed outbox rows to RabbitMQ.
    Relay,
    /// Watch due dates and escalate requests at risk of breaching their SLA.
    Sla,
    /// Deliver signed webhooks to merchants that configured one.
    Webhook,
}

impl Role {
    /// The role's name, as `refundd worker <name>` and `REFUNDD_DB_POOL` write it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every role: what `refundd all` runs in one process.
    pub const ALL: [Role; 7] = [
        Role::Relay,
        Role::Validate,
        Role::Decide,
        Role::Payout,
        Role::Notify,
        Role::Sla,
        Role::Webhook,
    ];
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::Role;

    /// `refundd all` is the single-machine default: it must run every role there is (it once
    /// ran no notify and no webhook stage, so nobody got an email).
    #[test]
    fn all_runs_every_role() {
        let mut all: Vec<String> = Role::ALL.iter().map(|r| format!("{r:?}")).collect();
        let mut every: Vec<String> = Role::value_variants()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        all.sort();
        every.sort();
        assert_eq!(all, every);
    }
}
