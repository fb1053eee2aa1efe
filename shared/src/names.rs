//! The names of our enums as they are written on the wire, in the database, in settings and in
//! packs (`needs_info`, `sla_at_risk`, `BYN`): each enum derives them with strum
//! (`IntoStaticStr` for the name, `VariantArray` for the list) instead of a hand-written match,
//! and [`Named`] reads them back with an error that lists what is expected.

use strum::VariantArray;

/// An enum whose every variant has one name (derive `strum::IntoStaticStr` and
/// `strum::VariantArray`; every such enum is `Named`).
pub trait Named: VariantArray + Copy + Into<&'static str> + 'static {
    /// The variant's name.
    fn name_of(self) -> &'static str {
        self.into()
    }

    /// The variant with exactly this name.
    fn from_name(name: &str) -> Option<Self> {
        Self::VARIANTS
            .iter()
            .copied()
            .find(|variant| variant.name_of() == name)
    }

    /// The variant with this name in any letter case (`by` for `BY`).
    fn from_name_ignoring_case(name: &str) -> Option<Self> {
        Self::VARIANTS
            .iter()
            .copied()
            .find(|variant| variant.name_of().eq_ignore_ascii_case(name))
    }

    /// Every name, for a person who wrote a wrong one: `on_track, at_risk, breached or paused`.
    fn expected() -> String {
        let names: Vec<&str> = Self::VARIANTS.iter().map(|v| v.name_of()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// The variant named `name`, or `unknown {what} "name" (expected a, b or c)`.
    fn parse_named(name: &str, what: &str) -> Result<Self, String> {
        Self::from_name(name)
            .ok_or_else(|| format!("unknown {what} {name:?} (expected {})", Self::expected()))
    }
}

impl<T: VariantArray + Copy + Into<&'static str> + 'static> Named for T {}

#[cfg(test)]
mod tests {
    use super::Named;
    use crate::api_keys::ApiRole;
    use crate::calendar::Country;
    use crate::language::Language;
    use crate::lifecycle::RequestState;
    use crate::messages::Stage;
    use crate::money::Currency;
    use crate::notify::{Escalation, Event};
    use crate::policy::Reason;
    use crate::sla::SlaState;

    /// Every name reads back as its variant, and is what serde writes (the database, the API
    /// and the queues all see one spelling).
    fn round_trip<T>()
    where
        T: Named + PartialEq + std::fmt::Debug + serde::Serialize,
    {
        for &variant in T::VARIANTS {
            assert_eq!(T::from_name(variant.name_of()), Some(variant));
            assert_eq!(
                serde_json::to_value(variant).unwrap(),
                serde_json::json!(variant.name_of()),
                "{variant:?}"
            );
        }
    }

    #[test]
    fn every_name_reads_back_and_is_the_serde_name() {
        round_trip::<ApiRole>();
        round_trip::<Country>();
        round_trip::<Currency>();
        round_trip::<Event>();
        round_trip::<Language>();
        round_trip::<Reason>();
        round_trip::<RequestState>();
        round_trip::<SlaState>();
        round_trip::<Stage>();
    }

    #[test]
    fn escalations_read_back() {
        for &escalation in Escalation::ALL {
            assert_eq!(escalation.as_str().parse(), Ok(escalation));
        }
    }

    #[test]
    fn a_wrong_name_is_told_what_is_expected() {
        assert_eq!(
            SlaState::parse_named("late", "SLA state"),
            Err(
                "unknown SLA state \"late\" (expected on_track, at_risk, breached or paused)"
                    .to_owned()
            )
        );
        assert_eq!(Country::from_name_ignoring_case("lv"), Some(Country::LV));
        assert_eq!(Country::from_name("lv"), None);
    }
}
