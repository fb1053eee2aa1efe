//! Terms as POLICIES.md defines them, on the shipped calendars: examples a customer would
//! notice (due dates around holidays, working Saturdays, the ends of the data) and properties
//! that must hold for every country, start date and length.

use bdays::HolidayCalendar;
use chrono::{Datelike, Days, NaiveDate};
use proptest::prelude::*;

use crate::calendar::{CalendarError, Country, WorkingDayCalendar};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn cal(country: Country) -> &'static WorkingDayCalendar {
    WorkingDayCalendar::builtin(country)
}

#[test]
fn received_on_saturday_three_working_days_end_on_wednesday() {
    // POLICIES.md: received Saturday, N = 3: Monday, Tuesday, Wednesday.
    for &country in Country::ALL {
        assert_eq!(
            cal(country).add_working_days(d("2026-03-14"), 3).unwrap(),
            d("2026-03-18"),
            "{country}"
        );
    }
}

#[test]
fn the_start_day_never_counts() {
    let ru = cal(Country::RU);
    // From a working Friday, 1 working day is Monday, not the Friday itself.
    assert_eq!(
        ru.add_working_days(d("2026-03-13"), 1).unwrap(),
        d("2026-03-16")
    );
    // From a holiday (9 March, moved off 8 March), 1 working day is the next day.
    assert_eq!(
        ru.add_working_days(d("2026-03-09"), 1).unwrap(),
        d("2026-03-10")
    );
    // Zero working days: the start date itself.
    assert_eq!(
        ru.add_working_days(d("2026-03-09"), 0).unwrap(),
        d("2026-03-09")
    );
}

#[test]
fn working_saturdays_count_in_working_day_terms() {
    assert_eq!(
        cal(Country::BY)
            .add_working_days(d("2026-04-24"), 1)
            .unwrap(),
        d("2026-04-25")
    );
    assert_eq!(
        cal(Country::LV)
            .add_working_days(d("2026-01-16"), 1)
            .unwrap(),
        d("2026-01-17")
    );
    assert_eq!(
        cal(Country::LV)
            .add_working_days(d("2026-06-26"), 1)
            .unwrap(),
        d("2026-06-27")
    );
    // KZ's working Sunday, 5 January 2025, right after a Saturday start.
    assert_eq!(
        cal(Country::KZ)
            .add_working_days(d("2025-01-04"), 1)
            .unwrap(),
        d("2025-01-05")
    );
}

#[test]
fn by_course_sla_and_access_revocation_terms() {
    // Seed 002: 30 BY working days for the refund; access revoked within 1 working day.
    let by = cal(Country::BY);
    assert_eq!(
        by.add_working_days(d("2026-03-20"), 30).unwrap(),
        d("2026-05-05")
    );
    assert_eq!(
        by.add_working_days(d("2026-03-20"), 1).unwrap(),
        d("2026-03-23")
    );
    // Over Radunitsa: Friday 17 April + 1 = Wednesday 22 April (20 and 21 April are off).
    assert_eq!(
        by.add_working_days(d("2026-04-17"), 1).unwrap(),
        d("2026-04-22")
    );
}

#[test]
fn calendar_day_terms_move_to_a_working_day_only_when_asked() {
    let by = cal(Country::BY);
    // 6 April + 14 = Monday 20 April, a decreed day off, then Radunitsa on the 21st.
    assert_eq!(
        by.add_calendar_days(d("2026-04-06"), 14, false).unwrap(),
        d("2026-04-20")
    );
    assert_eq!(
        by.add_calendar_days(d("2026-04-06"), 14, true).unwrap(),
        d("2026-04-22")
    );
    // KZ: 8 March + 14 = Sunday 22 March, then 23-25 March are off: Thursday 26 March.
    let kz = cal(Country::KZ);
    assert_eq!(
        kz.add_calendar_days(d("2026-03-08"), 14, true).unwrap(),
        d("2026-03-26")
    );
    // Ending on a working day: nothing to move.
    assert_eq!(
        kz.add_calendar_days(d("2026-03-02"), 14, true).unwrap(),
        d("2026-03-16")
    );
    // LV packs do not extend: 8 June + 14 = 22 June, a decreed day off, stays.
    let lv = cal(Country::LV);
    assert_eq!(
        lv.add_calendar_days(d("2026-06-08"), 14, false).unwrap(),
        d("2026-06-22")
    );
}

#[test]
fn counting_and_listing_working_days() {
    let by = cal(Country::BY);
    assert_eq!(
        by.working_days_between(d("2026-03-20"), d("2026-05-05"))
            .unwrap(),
        30
    );
    assert_eq!(
        by.working_days_between(d("2026-05-05"), d("2026-03-20"))
            .unwrap(),
        -30
    );
    assert_eq!(
        by.working_days_between(d("2026-04-21"), d("2026-04-21"))
            .unwrap(),
        0
    );
    let listed = by
        .working_days_in(d("2026-04-18"), d("2026-04-26"))
        .unwrap();
    let expected: Vec<NaiveDate> = ["2026-04-22", "2026-04-23", "2026-04-24", "2026-04-25"]
        .iter()
        .map(|s| d(s))
        .collect();
    assert_eq!(listed, expected);
    assert!(
        by.working_days_in(d("2026-04-26"), d("2026-04-18"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn dates_outside_the_data_are_errors() {
    let kz = cal(Country::KZ);
    for date in [d("2023-12-31"), d("2028-01-01")] {
        let err = kz.is_working_day(date).unwrap_err();
        match &err {
            CalendarError::OutOfRange {
                country,
                date: reported,
                years,
            } => {
                assert_eq!(
                    (*country, *reported, years.clone()),
                    (Country::KZ, date, 2024..=2027)
                );
            }
            other => panic!("expected OutOfRange, got {other}"),
        }
        assert!(err.to_string().contains("2024-2027"), "{err}");
    }
    assert!(kz.add_working_days(d("2028-01-03"), 1).is_err());
    assert!(kz.add_calendar_days(d("2023-12-25"), 14, false).is_err());
    assert!(
        kz.working_days_between(d("2026-01-01"), d("2028-01-03"))
            .is_err()
    );
    assert!(
        kz.working_days_in(d("2023-12-01"), d("2024-01-31"))
            .is_err()
    );
    assert!(kz.day_kind(d("2028-06-01")).is_err());
}

#[test]
fn terms_ending_after_the_data_are_errors_not_guesses() {
    let ru = cal(Country::RU);
    let err = ru.add_working_days(d("2027-12-20"), 30).unwrap_err();
    assert!(matches!(err, CalendarError::TermBeyondData { .. }), "{err}");
    assert!(
        err.to_string().contains("30 working days from 2027-12-20"),
        "{err}"
    );
    // The last working days of the data are still reachable.
    let last = ru.add_working_days(d("2027-12-20"), 1).unwrap();
    assert_eq!(last, d("2027-12-21"));
    // A calendar-day term needs no calendar unless it must land on a working day.
    assert_eq!(
        ru.add_calendar_days(d("2027-12-25"), 14, false).unwrap(),
        d("2028-01-08")
    );
    let err = ru.add_calendar_days(d("2027-12-25"), 14, true).unwrap_err();
    assert!(matches!(err, CalendarError::TermBeyondData { .. }), "{err}");
    // A huge term is an error, not an overflow.
    assert!(ru.add_working_days(d("2026-01-01"), u32::MAX).is_err());
    assert!(
        ru.add_calendar_days(d("2026-01-01"), u32::MAX, false)
            .is_err()
    );
}

#[test]
fn the_cache_agrees_with_the_plain_table_on_every_covered_day() {
    for &country in Country::ALL {
        let calendar = cal(country);
        let table = calendar.uncached();
        let first = NaiveDate::from_ymd_opt(*calendar.years().start(), 1, 1).unwrap();
        for date in first
            .iter_days()
            .take_while(|x| x.year() <= *calendar.years().end())
        {
            assert_eq!(
                calendar.is_bday(date),
                table.is_bday(date),
                "{country} {date}"
            );
            assert_eq!(
                calendar.is_holiday(date),
                table.is_holiday(date),
                "{country} {date}"
            );
            assert_eq!(
                calendar.day_kind(date).unwrap().is_working(),
                table.is_bday(date),
                "{country} {date}"
            );
        }
    }
}

#[test]
fn short_and_long_terms_agree_with_a_day_by_day_count() {
    // Short terms step through the days, long ones search the running count: both must give
    // what counting one day at a time on the uncached table gives.
    for &country in Country::ALL {
        let calendar = cal(country);
        let table = calendar.uncached();
        for start in [
            "2024-01-01",
            "2024-12-28",
            "2025-03-08",
            "2026-04-18",
            "2026-12-31",
        ] {
            for n in [1u32, 39, 40, 41, 42, 100, 250, 500] {
                let from = d(start);
                let mut date = from;
                let mut left = n;
                while left > 0 && date < d("2027-12-31") {
                    date = date.succ_opt().unwrap();
                    if table.is_bday(date) {
                        left -= 1;
                    }
                }
                // Past the data the term is an error; the day-by-day count ran out of days.
                let expected = (left == 0).then_some(date);
                assert_eq!(
                    calendar.add_working_days(from, n).ok(),
                    expected,
                    "{country}: {n} working days from {from}"
                );
            }
        }
    }
}

fn country() -> impl Strategy<Value = Country> {
    prop::sample::select(Country::ALL.to_vec())
}

/// A date in the covered years 2024-2027 (1461 days).
fn covered_date() -> impl Strategy<Value = NaiveDate> {
    (0u64..1461).prop_map(|offset| d("2024-01-01") + Days::new(offset))
}

proptest! {
    #[test]
    fn adding_working_days_then_counting_back_gives_the_same_number(
        country in country(), from in covered_date(), n in 0u32..400,
    ) {
        let calendar = cal(country);
        match calendar.add_working_days(from, n) {
            Ok(end) => {
                prop_assert_eq!(calendar.working_days_between(from, end).unwrap(), i64::from(n));
                prop_assert_eq!(calendar.working_days_between(end, from).unwrap(), -i64::from(n));
                if n > 0 {
                    prop_assert!(end > from);
                    prop_assert!(calendar.is_working_day(end).unwrap());
                    // The (n-1)-th working day comes strictly before the n-th.
                    prop_assert!(calendar.add_working_days(from, n - 1).unwrap() < end);
                }
            }
            Err(CalendarError::TermBeyondData { .. }) => {
                let last = d("2027-12-31");
                prop_assert!(calendar.working_days_between(from, last).unwrap() < i64::from(n));
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn extended_calendar_day_terms_end_on_the_first_working_day_from_d_plus_n(
        country in country(), from in covered_date(), n in 0u32..60,
    ) {
        let calendar = cal(country);
        let plain = from + Days::new(u64::from(n));
        prop_assert_eq!(calendar.add_calendar_days(from, n, false).unwrap(), plain);
        if let Ok(end) = calendar.add_calendar_days(from, n, true) {
            prop_assert!(end >= plain);
            prop_assert!(calendar.is_working_day(end).unwrap());
            for day in plain.iter_days().take_while(|x| *x < end) {
                prop_assert!(!calendar.is_working_day(day).unwrap(), "{} skipped", day);
            }
        } else {
            prop_assert!(plain.year() == 2027 && plain.month() == 12 || plain.year() > 2027);
        }
    }

    #[test]
    fn listing_and_counting_agree(
        country in country(), a in covered_date(), b in covered_date(),
    ) {
        let calendar = cal(country);
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        let listed = calendar.working_days_in(a, b).unwrap();
        let counted = calendar.working_days_between(a, b).unwrap()
            + i64::from(calendar.is_working_day(a).unwrap());
        prop_assert_eq!(i64::try_from(listed.len()).unwrap(), counted);
        prop_assert!(listed.iter().all(|day| calendar.is_working_day(*day).unwrap()));
        prop_assert!(listed.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn working_day_counts_add_up_over_any_middle_date(
        country in country(), a in covered_date(), b in covered_date(), c in covered_date(),
    ) {
        let calendar = cal(country);
        let ab = calendar.working_days_between(a, b).unwrap();
        let bc = calendar.working_days_between(b, c).unwrap();
        prop_assert_eq!(ab + bc, calendar.working_days_between(a, c).unwrap());
    }
}
