//! The countries whose working-day calendars the refund system knows, and the time zone in
//! which each country's local dates are read.

use std::str::FromStr;

use super::CalendarError;
use crate::names::Named;

/// A country with a national working-day calendar.
///
/// Parsed case-insensitively (`"by"`, `"BY"`), displayed as the ISO 3166-1 alpha-2 code.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
pub enum Country {
    /// Belarus.
    BY,
    /// Kazakhstan.
    KZ,
    /// Latvia.
    LV,
    /// Russia.
    RU,
}

impl Country {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Country] = <Country as strum::VariantArray>::VARIANTS;

    /// The time zone whose local date is the date of an event in this country.
    pub fn timezone(self) -> chrono_tz::Tz {
        match self {
            Country::BY => chrono_tz::Europe::Minsk,
            Country::KZ => chrono_tz::Asia::Almaty,
            Country::LV => chrono_tz::Europe::Riga,
            Country::RU => chrono_tz::Europe::Moscow,
        }
    }

    /// The two-letter code, `"BY"`.
    pub fn code(self) -> &'static str {
        self.into()
    }

    /// Name of the country's calendar data file, `"by.toml"`.
    pub fn data_file_name(self) -> &'static str {
        match self {
            Country::BY => "by.toml",
            Country::KZ => "kz.toml",
            Country::LV => "lv.toml",
            Country::RU => "ru.toml",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Country::BY => 0,
            Country::KZ => 1,
            Country::LV => 2,
            Country::RU => 3,
        }
    }
}

impl FromStr for Country {
    type Err = CalendarError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Country::from_name_ignoring_case(s).ok_or_else(|| CalendarError::UnknownCountry {
            input: s.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};

    use super::*;

    #[test]
    fn parses_codes_in_any_case_and_displays_upper_case() {
        assert_eq!("by".parse::<Country>().unwrap(), Country::BY);
        assert_eq!("Kz".parse::<Country>().unwrap(), Country::KZ);
        assert_eq!("LV".parse::<Country>().unwrap(), Country::LV);
        assert_eq!("ru".parse::<Country>().unwrap().to_string(), "RU");
    }

    #[test]
    fn rejects_unknown_codes_naming_the_input() {
        let err = "EE".parse::<Country>().unwrap_err();
        assert!(err.to_string().contains("\"EE\""), "{err}");
        assert!("".parse::<Country>().is_err());
        assert!("BYN".parse::<Country>().is_err());
    }

    #[test]
    fn serializes_as_the_code() {
        assert_eq!(serde_json::to_string(&Country::LV).unwrap(), "\"LV\"");
        let back: Country = serde_json::from_str("\"KZ\"").unwrap();
        assert_eq!(back, Country::KZ);
    }

    #[test]
    fn local_dates_follow_the_country_time_zone() {
        // POLICIES.md: 2026-03-02T22:30:00Z is 2026-03-03 in Minsk (UTC+3).
        let instant = Utc.with_ymd_and_hms(2026, 3, 2, 22, 30, 0).unwrap();
        let in_minsk = instant.with_timezone(&Country::BY.timezone()).date_naive();
        assert_eq!(in_minsk, NaiveDate::from_ymd_opt(2026, 3, 3).unwrap());
        // Almaty is UTC+5 since 2024-03-01: 18:59Z is still the same day, 19:00Z is not.
        let almaty = Country::KZ.timezone();
        let before = Utc.with_ymd_and_hms(2026, 3, 2, 18, 59, 0).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 3, 2, 19, 0, 0).unwrap();
        assert_eq!(
            before.with_timezone(&almaty).date_naive().to_string(),
            "2026-03-02"
        );
        assert_eq!(
            after.with_timezone(&almaty).date_naive().to_string(),
            "2026-03-03"
        );
        // Riga is UTC+2 in winter: 22:30Z is still 2026-03-03 at 00:30 local.
        let riga = instant.with_timezone(&Country::LV.timezone()).date_naive();
        assert_eq!(riga.to_string(), "2026-03-03");
        let moscow = Utc.with_ymd_and_hms(2026, 3, 2, 20, 59, 0).unwrap();
        assert_eq!(
            moscow
                .with_timezone(&Country::RU.timezone())
                .date_naive()
                .to_string(),
            "2026-03-02"
        );
    }
}
