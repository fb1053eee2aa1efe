//! Money: integer minor units with an ISO 4217 currency.
//!
//! Owns parsing amounts from decimal strings (`"450.00"`), printing them back, and the one
//! rounding rule of the system: a proportion is computed exactly (in 128-bit integers) and
//! rounded once, half away from zero, to the minor unit. No floating point anywhere.

use std::fmt;
use std::str::FromStr;

use crate::names::Named;
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency the system settles in.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
pub enum Currency {
    /// Belarusian ruble.
    BYN,
    /// Kazakhstani tenge.
    KZT,
    /// Euro.
    EUR,
    /// Russian ruble.
    RUB,
    /// US dollar.
    USD,
}

impl Currency {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Currency] = <Currency as strum::VariantArray>::VARIANTS;

    /// ISO 4217 alphabetic code.
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Number of decimal places of the minor unit (ISO 4217 exponent).
    pub fn exponent(self) -> u32 {
        // All five have two decimals (KZT tiyn, BYN kopeck, RUB kopeck, EUR/USD cent).
        2
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_name(s).ok_or_else(|| MoneyError::UnknownCurrency(s.to_owned()))
    }
}

/// Why an amount or currency could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not one of the supported currency codes.
    #[error("unknown currency `{0}` (expected one of BYN, KZT, EUR, RUB, USD)")]
    UnknownCurrency(String),
    /// The text is not a plain decimal amount, or has more than 4 decimal places.
    #[error("`{0}` is not a decimal amount like \"450.00\"")]
    NotDecimal(String),
    /// The amount has more decimal places than the currency's minor unit allows.
    #[error("`{text}` has more than {max} decimal places for {currency}")]
    TooManyDecimals {
        /// The amount as written.
        text: String,
        /// The currency's number of decimal places.
        max: u32,
        /// The currency the amount was given in.
        currency: Currency,
    },
    /// The amount does not fit in 64-bit minor units.
    #[error("`{0}` is too large")]
    TooLarge(String),
    /// Two amounts of different currencies were combined or compared.
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch {
        /// The currency of the first amount.
        left: Currency,
        /// The currency of the second amount.
        right: Currency,
    },
    /// A result does not fit in 64-bit minor units, or a proportion had a zero denominator.
    #[error("amount overflow")]
    Overflow,
}

/// A decimal amount as written (`"450.00"`, `"12.5"`, `"-3"`), before a currency gives it a
/// minor unit. Keeps the digits exactly; converting to [`Money`] checks the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalAmount {
    /// All digits as one integer: `"12.50"` is 1250 with scale 2.
    digits: i128,
    scale: u32,
}

/// Longest fraction accepted before a currency is known; no currency has more than 4.
const MAX_SCALE: u32 = 4;

impl DecimalAmount {
    /// Parses `-?[0-9]+(\.[0-9]+)?`. No exponent, no grouping, no sign `+`, no spaces.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let not_decimal = || MoneyError::NotDecimal(text.to_owned());
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((w, f)) => (w, f),
            None => (unsigned, ""),
        };
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
            return Err(not_decimal());
        }
        if unsigned.contains('.') && fraction.is_empty() {
            return Err(not_decimal());
        }
        let scale = u32::try_from(fraction.len()).map_err(|_| not_decimal())?;
        if scale > MAX_SCALE {
            return Err(not_decimal());
        }
        // 30 digits fit an i128 with room; anything longer is surely beyond i64 minor units.
        if whole.len() + fraction.len() > 30 {
            return Err(MoneyError::TooLarge(text.to_owned()));
        }
        let mut digits: i128 = 0;
        for b in whole.bytes().chain(fraction.bytes()) {
            digits = digits * 10 + i128::from(b - b'0');
        }
        Ok(DecimalAmount {
            digits: if negative { -digits } else { digits },
            scale,
        })
    }

    /// This amount in `currency`'s minor units; fails if it has more decimals than the
    /// currency allows (no silent rounding of input).
    pub fn in_currency(self, currency: Currency) -> Result<Money, MoneyError> {
        let exponent = currency.exponent();
        if self.scale > exponent {
            // Trailing zeros beyond the exponent are harmless ("1.500" EUR).
            let excess = 10_i128.pow(self.scale - exponent);
            if self.digits % excess != 0 {
                return Err(MoneyError::TooManyDecimals {
                    text: self.to_string(),
                    max: exponent,
                    currency,
                });
            }
            let minor = i64::try_from(self.digits / excess)
                .map_err(|_| MoneyError::TooLarge(self.to_string()))?;
            return Ok(Money::from_minor(minor, currency));
        }
        let minor = self
            .digits
            .checked_mul(10_i128.pow(exponent - self.scale))
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(|| MoneyError::TooLarge(self.to_string()))?;
        Ok(Money::from_minor(minor, currency))
    }
}

impl fmt::Display for DecimalAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_scaled(f, self.digits, self.scale)
    }
}

impl FromStr for DecimalAmount {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DecimalAmount::parse(s)
    }
}

impl Serialize for DecimalAmount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DecimalAmount {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = AmountText::deserialize(deserializer)?;
        DecimalAmount::parse(&text.0).map_err(serde::de::Error::custom)
    }
}

/// Amounts are strings in JSON and TOML; a bare number is refused with a message saying so.
struct AmountText(String);

impl<'de> Deserialize<'de> for AmountText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AmountText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a decimal string like \"450.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AmountText, E> {
                Ok(AmountText(v.to_owned()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

fn write_scaled(f: &mut fmt::Formatter<'_>, digits: i128, scale: u32) -> fmt::Result {
    let sign = if digits < 0 { "-" } else { "" };
    let magnitude = digits.unsigned_abs();
    if scale == 0 {
        return write!(f, "{sign}{magnitude}");
    }
    let unit = 10_u128.pow(scale);
    write!(
        f,
        "{sign}{}.{:0width$}",
        magnitude / unit,
        magnitude % unit,
        width = scale as usize
    )
}

/// An amount of money: integer minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount of `minor` units (cents, kopecks, tiyn) of `currency`.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Nothing, in `currency`.
    pub fn zero(currency: Currency) -> Self {
        Money::from_minor(0, currency)
    }

    /// Parses a decimal string (`"450.00"`, `"450"`, `"450.5"`) in `currency`.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        DecimalAmount::parse(text)?.in_currency(currency)
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.minor
    }

    /// The amount's currency.
    pub fn currency(self) -> Currency {
        self.currency
    }

    /// Whether the amount is zero.
    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    /// The sum of two amounts; fails on a currency mismatch or overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// `self` minus `other`; fails on a currency mismatch or overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// The smaller of two amounts of the same currency.
    pub fn min(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        Ok(if other.minor < self.minor {
            other
        } else {
            self
        })
    }

    /// `self × numerator / denominator`, computed exactly and rounded once, half away from
    /// zero, to the minor unit. `denominator` must not be zero.
    pub fn proportion(self, numerator: u64, denominator: u64) -> Result<Money, MoneyError> {
        if denominator == 0 {
            return Err(MoneyError::Overflow);
        }
        let product = i128::from(self.minor) * i128::from(numerator);
        let rounded = divide_half_away_from_zero(product, i128::from(denominator));
        let minor = i64::try_from(rounded).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::from_minor(minor, self.currency))
    }

    /// `percent` % of this amount, rounded once, half away from zero.
    pub fn percent(self, percent: u32) -> Result<Money, MoneyError> {
        self.proportion(u64::from(percent), 100)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    /// The amount as a decimal string without the currency: `"57391.30"`.
    pub fn amount_text(self) -> String {
        struct Amount(Money);
        impl fmt::Display for Amount {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_scaled(f, i128::from(self.0.minor), self.0.currency.exponent())
            }
        }
        Amount(self).to_string()
    }
}

impl Serialize for Money {
    /// The amount alone, as a decimal string (`"90.00"`); the currency is a separate field.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.amount_text())
    }
}

/// `numerator / denominator` rounded half away from zero; `denominator` is positive.
fn divide_half_away_from_zero(numerator: i128, denominator: i128) -> i128 {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    // |remainder| * 2 >= denominator means the fraction is at least one half.
    if remainder.unsigned_abs() * 2 >= denominator.unsigned_abs() {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

impl fmt::Display for Money {
    /// `"450.00 BYN"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_text(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byn(text: &str) -> Money {
        Money::parse(text, Currency::BYN).unwrap()
    }

    #[test]
    fn parses_and_prints_decimal_strings() {
        assert_eq!(byn("450.00").minor(), 45_000);
        assert_eq!(byn("450").minor(), 45_000);
        assert_eq!(byn("450.5").minor(), 45_050);
        assert_eq!(byn("0.01").minor(), 1);
        assert_eq!(byn("-3.10").minor(), -310);
        assert_eq!(byn("450.5").amount_text(), "450.50");
        assert_eq!(byn("0.07").amount_text(), "0.07");
        assert_eq!(byn("-0.07").amount_text(), "-0.07");
        assert_eq!(
            Money::parse("60000", Currency::KZT).unwrap().to_string(),
            "60000.00 KZT"
        );
        // Trailing zeros beyond the minor unit carry no value and are accepted.
        assert_eq!(byn("1.500").minor(), 150);
    }

    #[test]
    fn refuses_malformed_amounts() {
        for bad in [
            "", ".5", "5.", "1,00", "1 000.00", "+5", "1e3", "abc", " 1.00", "1.0.0", "--1",
        ] {
            assert!(
                matches!(
                    Money::parse(bad, Currency::EUR),
                    Err(MoneyError::NotDecimal(_))
                ),
                "{bad:?} should be refused"
            );
        }
        assert!(matches!(
            Money::parse("1.005", Currency::EUR),
            Err(MoneyError::TooManyDecimals { max: 2, .. })
        ));
        assert!(matches!(
            Money::parse("99999999999999999999", Currency::EUR),
            Err(MoneyError::TooLarge(_))
        ));
    }

    #[test]
    fn currency_codes_round_trip() {
        for &c in Currency::ALL {
            assert_eq!(c.code().parse::<Currency>().unwrap(), c);
        }
        assert!("byn".parse::<Currency>().is_err());
        assert!("GBP".parse::<Currency>().is_err());
    }

    #[test]
    fn proportion_rounds_once_half_away_from_zero() {
        // 60 000.00 × 8 / 184 = 2608.695652… → 2608.70
        let paid = Money::parse("60000.00", Currency::KZT).unwrap();
        assert_eq!(paid.proportion(8, 184).unwrap().amount_text(), "2608.70");
        // Exactly half a minor unit rounds away from zero: 0.05 × 50 % = 0.025 → 0.03.
        assert_eq!(byn("0.05").percent(50).unwrap().amount_text(), "0.03");
        assert_eq!(byn("-0.05").percent(50).unwrap().amount_text(), "-0.03");
        // Just under half rounds down: 0.01 × 49 % = 0.0049 → 0.00.
        assert_eq!(byn("0.01").percent(49).unwrap().amount_text(), "0.00");
        assert_eq!(byn("450.00").percent(20).unwrap().amount_text(), "90.00");
        assert_eq!(byn("0.01").percent(50).unwrap().amount_text(), "0.01");
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let eur = Money::parse("1.00", Currency::EUR).unwrap();
        assert!(matches!(
            byn("1.00").checked_sub(eur),
            Err(MoneyError::CurrencyMismatch { .. })
        ));
        assert_eq!(byn("5.00").checked_sub(byn("1.25")).unwrap(), byn("3.75"));
        assert_eq!(byn("5.00").min(byn("1.25")).unwrap(), byn("1.25"));
    }

    #[test]
    fn amounts_deserialize_only_from_strings() {
        let ok: DecimalAmount = serde_json::from_str("\"12.30\"").unwrap();
        assert_eq!(ok.to_string(), "12.30");
        assert!(serde_json::from_str::<DecimalAmount>("12.30").is_err());
        assert!(serde_json::from_str::<DecimalAmount>("\"12,30\"").is_err());
    }
}
