//! OpenAPI schemas of the domain's closed lists (reasons, languages, currencies, gateways,
//! states) and of decimal amounts. Built from the domain's own lists, so the document cannot
//! drift from what the API accepts; request schemas point at them with `value_type`.

use std::borrow::Cow;

use shared::language::Language;
use shared::lifecycle::RequestState;
use shared::merchants::GatewayKind;
use shared::money::Currency;
use shared::policy::Reason;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// Every gateway kind by its name (the enum has no list of its own).
pub const GATEWAYS: [GatewayKind; 5] = [
    GatewayKind::Sandbox,
    GatewayKind::Webpay,
    GatewayKind::Robokassa,
    GatewayKind::Cloudpayments,
    GatewayKind::Stripe,
];

fn string_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

macro_rules! named_schema {
    ($(#[$doc:meta])* $name:ident, $schema:expr) => {
        $(#[$doc])*
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $schema
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

named_schema!(
    /// Why the customer wants the money back.
    ReasonName,
    string_enum(
        "Why the customer wants the money back.",
        Reason::ALL.iter().map(|r| r.name())
    )
);

named_schema!(
    /// A language customer emails are written in.
    LanguageCode,
    string_enum(
        "A language customer emails are written in.",
        Language::ALL.iter().map(|l| l.code())
    )
);

named_schema!(
    /// An ISO 4217 currency code the policies use.
    CurrencyCode,
    string_enum(
        "An ISO 4217 currency code the policies use.",
        Currency::ALL.iter().map(|c| c.code())
    )
);

named_schema!(
    /// A payment gateway.
    GatewayName,
    string_enum("A payment gateway.", GATEWAYS.iter().map(|g| g.as_str()))
);

named_schema!(
    /// A state in a refund request's lifecycle.
    StateName,
    string_enum(
        "A state in a refund request's lifecycle.",
        RequestState::ALL.iter().map(|s| s.as_str())
    )
);

named_schema!(
    /// An amount of money as a decimal string in the currency's units.
    DecimalText,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "An amount as a decimal string in the currency's units, e.g. `450.00`.",
        ))
        .pattern(Some(r"^[0-9]+(\.[0-9]+)?$"))
        .examples(["450.00"])
        .into()
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a gateway kind is added and `GATEWAYS` does not list it.
    #[allow(dead_code)]
    fn every_gateway_is_listed(g: GatewayKind) -> usize {
        match g {
            GatewayKind::Sandbox => 0,
            GatewayKind::Webpay => 1,
            GatewayKind::Robokassa => 2,
            GatewayKind::Cloudpayments => 3,
            GatewayKind::Stripe => 4,
        }
    }

    #[test]
    fn gateway_names_are_the_ones_the_api_parses() {
        for g in GATEWAYS {
            let parsed: GatewayKind = serde_json::from_value(serde_json::json!(g.as_str()))
                .expect("every listed gateway name parses");
            assert_eq!(parsed, g);
        }
    }
}
