//! Easter dates: Western Easter (Gregorian computus, from the `bdays` crate) and Orthodox
//! Easter (Julian computus, converted to the Gregorian calendar). Holidays such as BY
//! Radunitsa and LV Good Friday are offsets from one of them.

use chrono::{Datelike, Days, NaiveDate};
use serde::Deserialize;

/// Which Easter a movable holiday hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EasterCalendar {
    /// Western (Catholic and Protestant) Easter, Gregorian computus: LV Good Friday, Easter Monday.
    Western,
    /// Orthodox Easter, Julian computus: BY Radunitsa (Easter + 9 days).
    Orthodox,
}

/// First year the Julian-to-Gregorian shift used for Orthodox Easter (13 days) holds.
const ORTHODOX_FIRST_YEAR: i32 = 1900;
/// Last year it holds: from March 2100 the calendars are 14 days apart.
const ORTHODOX_LAST_YEAR: i32 = 2099;

/// Easter Sunday of `year` in the given tradition, as a Gregorian date.
///
/// `None` for years the computation does not support: Western before 1583, Orthodox outside
/// 1900-2099.
pub fn easter_sunday(calendar: EasterCalendar, year: i32) -> Option<NaiveDate> {
    match calendar {
        EasterCalendar::Western => bdays::easter::easter_naive_date(year).ok(),
        EasterCalendar::Orthodox => orthodox_easter(year),
    }
}

/// Orthodox Easter: Meeus' Julian algorithm, then the Julian date shifted by the 13 days the
/// Julian calendar lags behind the Gregorian one in 1900-2099.
fn orthodox_easter(year: i32) -> Option<NaiveDate> {
    if !(ORTHODOX_FIRST_YEAR..=ORTHODOX_LAST_YEAR).contains(&year) {
        return None;
    }
    let a = year % 4;
    let b = year % 7;
    let c = year % 19;
    let d = (19 * c + 15) % 30;
    let e = (2 * a + 4 * b - d + 34) % 7;
    let month = u32::try_from((d + e + 114) / 31).ok()?;
    let day = u32::try_from((d + e + 114) % 31 + 1).ok()?;
    // The Julian date expressed with Gregorian month/day numbers, then moved by the lag. The
    // Julian Easter is at latest 25 April, so the intermediate date always exists.
    let julian_as_gregorian = NaiveDate::from_ymd_opt(year, month, day)?;
    let gregorian = julian_as_gregorian.checked_add_days(Days::new(13))?;
    debug_assert_eq!(gregorian.weekday(), chrono::Weekday::Sun);
    Some(gregorian)
}

#[cfg(test)]
mod tests {
    use chrono::Weekday;

    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn orthodox_easter_matches_the_church_calendar() {
        for (year, date) in [
            (2021, ymd(2021, 5, 2)),
            (2023, ymd(2023, 4, 16)),
            (2024, ymd(2024, 5, 5)),
            (2025, ymd(2025, 4, 20)),
            (2026, ymd(2026, 4, 12)),
            (2027, ymd(2027, 5, 2)),
            (2030, ymd(2030, 4, 28)),
        ] {
            assert_eq!(
                easter_sunday(EasterCalendar::Orthodox, year),
                Some(date),
                "{year}"
            );
        }
    }

    #[test]
    fn western_easter_matches_the_church_calendar() {
        for (year, date) in [
            (2024, ymd(2024, 3, 31)),
            (2025, ymd(2025, 4, 20)),
            (2026, ymd(2026, 4, 5)),
            (2027, ymd(2027, 3, 28)),
        ] {
            assert_eq!(
                easter_sunday(EasterCalendar::Western, year),
                Some(date),
                "{year}"
            );
        }
    }

    #[test]
    fn orthodox_easter_is_a_sunday_never_before_western_easter() {
        for year in ORTHODOX_FIRST_YEAR..=ORTHODOX_LAST_YEAR {
            let orthodox = easter_sunday(EasterCalendar::Orthodox, year).unwrap();
            let western = easter_sunday(EasterCalendar::Western, year).unwrap();
            assert_eq!(orthodox.weekday(), Weekday::Sun, "{year}");
            assert!(orthodox >= western, "{year}: {orthodox} < {western}");
            // Orthodox Easter falls between 4 April and 8 May in these years.
            assert!(
                orthodox >= ymd(year, 4, 4) && orthodox <= ymd(year, 5, 8),
                "{year}"
            );
        }
    }

    #[test]
    fn unsupported_years_give_no_date() {
        assert_eq!(easter_sunday(EasterCalendar::Orthodox, 1899), None);
        assert_eq!(easter_sunday(EasterCalendar::Orthodox, 2100), None);
        assert_eq!(easter_sunday(EasterCalendar::Western, 1500), None);
    }
}
