//! The shipped calendars against the governments' published lists: for each country and year,
//! every weekday that is not worked and every weekend day that is, checked day by day over
//! the whole year, plus the published yearly counts where one was found.

use chrono::{Datelike, NaiveDate, Weekday};

use crate::calendar::{Calendars, Country, DayKind, WorkingDayCalendar};

fn d(s: &str) -> NaiveDate {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test date {s}: {e}"))
}

/// Checks every day of `year`: a weekday is a working day unless listed in `weekdays_off`;
/// a weekend day is not, unless listed in `weekend_days_worked`.
fn assert_year(country: Country, year: i32, weekdays_off: &[&str], weekend_days_worked: &[&str]) {
    let calendar = WorkingDayCalendar::builtin(country);
    let off: Vec<NaiveDate> = weekdays_off.iter().map(|s| d(s)).collect();
    let worked: Vec<NaiveDate> = weekend_days_worked.iter().map(|s| d(s)).collect();
    for date in off.iter().chain(&worked) {
        assert_eq!(date.year(), year, "test list for {year} contains {date}");
    }
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    let mut mismatches = Vec::new();
    for date in first.iter_days().take_while(|x| x.year() == year) {
        let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
        let expected = if weekend {
            worked.contains(&date)
        } else {
            !off.contains(&date)
        };
        let actual = calendar.is_working_day(date).unwrap();
        if actual != expected {
            mismatches.push(format!(
                "{date} ({:?}): expected {}, calendar says {} ({:?})",
                date.weekday(),
                if expected { "working" } else { "day off" },
                if actual { "working" } else { "day off" },
                calendar.day_kind(date).unwrap()
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{country} {year}:\n{}",
        mismatches.join("\n")
    );
}

fn working_days_in_year(country: Country, year: i32) -> usize {
    let calendar = WorkingDayCalendar::builtin(country);
    let first = NaiveDate::from_ymd_opt(year, 1, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(year, 12, 31).unwrap();
    calendar.working_days_in(first, last).unwrap().len()
}

#[test]
fn every_shipped_calendar_loads_and_covers_2024_to_2027() {
    let calendars = Calendars::builtin();
    for &country in Country::ALL {
        let calendar = calendars.get(country);
        assert_eq!(calendar.country(), country);
        assert_eq!(calendar.years(), 2024..=2027, "{country}");
        for year in 2024..=2027 {
            let source = calendar.year_source(year).unwrap();
            assert!(!source.source.is_empty(), "{country} {year} has no source");
            // Only 2027 is waiting for its decrees.
            assert_eq!(source.provisional, year == 2027, "{country} {year}");
        }
    }
}

// --- Belarus: no weekend moves; Council of Ministers transfers ---

#[test]
fn by_2024_matches_resolution_814() {
    assert_year(
        Country::BY,
        2024,
        &[
            "2024-01-01",
            "2024-01-02",
            "2024-03-08",
            "2024-05-01",
            "2024-05-09",
            "2024-05-13",
            "2024-05-14",
            "2024-07-03",
            "2024-11-07",
            "2024-11-08",
            "2024-12-25",
        ],
        &["2024-05-18", "2024-11-16"],
    );
}

#[test]
fn by_2025_matches_resolution_839() {
    assert_year(
        Country::BY,
        2025,
        &[
            "2025-01-01",
            "2025-01-02",
            "2025-01-06",
            "2025-01-07",
            "2025-04-28",
            "2025-04-29",
            "2025-05-01",
            "2025-05-09",
            "2025-07-03",
            "2025-07-04",
            "2025-11-07",
            "2025-12-25",
            "2025-12-26",
        ],
        &["2025-01-11", "2025-04-26", "2025-07-12", "2025-12-20"],
    );
}

#[test]
fn by_2026_matches_resolution_397() {
    // 8 March, 9 May and 7 November fall on weekends and are not moved in Belarus.
    assert_year(
        Country::BY,
        2026,
        &[
            "2026-01-01",
            "2026-01-02",
            "2026-01-07",
            "2026-04-20",
            "2026-04-21",
            "2026-05-01",
            "2026-07-03",
            "2026-12-25",
        ],
        &["2026-04-25"],
    );
    let by = WorkingDayCalendar::builtin(Country::BY);
    assert_eq!(by.day_kind(d("2026-03-09")).unwrap(), DayKind::WorkingDay);
    assert_eq!(
        by.day_kind(d("2026-04-21")).unwrap(),
        DayKind::PublicHoliday {
            name: "Радуница (по календарю православной конфессии)".into()
        }
    );
    assert_eq!(
        by.day_kind(d("2026-04-25")).unwrap(),
        DayKind::WorkingWeekendDay {
            compensates: d("2026-04-20")
        }
    );
}

#[test]
fn by_anchor_30_working_days_from_2026_03_20_is_2026_05_05() {
    let by = WorkingDayCalendar::builtin(Country::BY);
    assert_eq!(
        by.add_working_days(d("2026-03-20"), 30).unwrap(),
        d("2026-05-05")
    );
}

#[test]
fn by_2027_has_radunitsa_on_11_may_without_transfers_yet() {
    let by = WorkingDayCalendar::builtin(Country::BY);
    assert!(!by.is_working_day(d("2027-05-11")).unwrap());
    assert!(by.is_working_day(d("2027-05-10")).unwrap());
}

// --- Kazakhstan: holidays on weekends move, except Orthodox Christmas and Kurban Ait ---

#[test]
fn kz_2024_matches_the_published_calendar() {
    // 23 March (Sat) -> 25 March, 6 July (Sat) -> 8 July; Kurban Ait 16 June and
    // 7 January are Sundays and do not move.
    assert_year(
        Country::KZ,
        2024,
        &[
            "2024-01-01",
            "2024-01-02",
            "2024-03-08",
            "2024-03-21",
            "2024-03-22",
            "2024-03-25",
            "2024-05-01",
            "2024-05-07",
            "2024-05-09",
            "2024-07-08",
            "2024-08-30",
            "2024-10-25",
            "2024-12-16",
        ],
        &[],
    );
    let kz = WorkingDayCalendar::builtin(Country::KZ);
    assert!(
        kz.is_working_day(d("2024-06-17")).unwrap(),
        "Kurban Ait on Sunday gives no Monday"
    );
}

#[test]
fn kz_2025_matches_the_published_calendar_with_its_working_sunday() {
    assert_year(
        Country::KZ,
        2025,
        &[
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-07",
            "2025-03-10",
            "2025-03-21",
            "2025-03-24",
            "2025-03-25",
            "2025-05-01",
            "2025-05-07",
            "2025-05-09",
            "2025-06-06",
            "2025-07-07",
            "2025-09-01",
            "2025-10-27",
            "2025-12-16",
        ],
        &["2025-01-05"],
    );
    let kz = WorkingDayCalendar::builtin(Country::KZ);
    assert_eq!(
        kz.day_kind(d("2025-03-24")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2025-03-22"),
            name: "Наурыз мейрамы".into()
        }
    );
    assert_eq!(
        kz.day_kind(d("2025-03-25")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2025-03-23"),
            name: "Наурыз мейрамы".into()
        }
    );
}

#[test]
fn kz_2026_matches_the_published_calendar_and_the_new_constitution() {
    // Nauryz 21-22 March (Sat-Sun) -> 24-25 March after Monday's 23 March; 8 March -> 9 March;
    // 9 May -> 11 May; 25 October -> 26 October; Kurban Ait 27 May. 30 August is no longer a
    // holiday (new Constitution of 15 March 2026), so 31 August is worked.
    assert_year(
        Country::KZ,
        2026,
        &[
            "2026-01-01",
            "2026-01-02",
            "2026-01-07",
            "2026-03-09",
            "2026-03-23",
            "2026-03-24",
            "2026-03-25",
            "2026-05-01",
            "2026-05-07",
            "2026-05-11",
            "2026-05-27",
            "2026-07-06",
            "2026-10-26",
            "2026-12-16",
        ],
        &[],
    );
    assert_eq!(working_days_in_year(Country::KZ, 2026), 247);
    let kz = WorkingDayCalendar::builtin(Country::KZ);
    assert_eq!(kz.day_kind(d("2026-08-31")).unwrap(), DayKind::WorkingDay);
    // January 2026: 19 working days for a five-day week, as published.
    assert_eq!(
        kz.working_days_in(d("2026-01-01"), d("2026-01-31"))
            .unwrap()
            .len(),
        19
    );
}

#[test]
fn kz_2027_moves_constitution_day_to_15_march() {
    let kz = WorkingDayCalendar::builtin(Country::KZ);
    assert!(!kz.is_working_day(d("2027-03-15")).unwrap());
    assert!(kz.is_working_day(d("2027-08-30")).unwrap());
    // 2 January 2027 is a Saturday: Monday 4 January is the day off.
    assert!(!kz.is_working_day(d("2027-01-04")).unwrap());
    // Nauryz 21 March 2027 is a Sunday: 22-23 are holidays, 24 March the moved day off.
    assert!(!kz.is_working_day(d("2027-03-24")).unwrap());
    assert!(kz.is_working_day(d("2027-03-25")).unwrap());
}

// --- Latvia: 4 May and 18 November move to Monday; Cabinet transfers ---

#[test]
fn lv_2024_matches_order_348() {
    // 4 May is a Saturday -> Monday 6 May off. 23 June (Sunday) does not move.
    assert_year(
        Country::LV,
        2024,
        &[
            "2024-01-01",
            "2024-03-29",
            "2024-04-01",
            "2024-05-01",
            "2024-05-06",
            "2024-06-24",
            "2024-11-18",
            "2024-12-23",
            "2024-12-24",
            "2024-12-25",
            "2024-12-26",
            "2024-12-30",
            "2024-12-31",
        ],
        &["2024-12-14", "2024-12-28"],
    );
}

#[test]
fn lv_2025_matches_the_cabinet_order() {
    // Good Friday 18 April, Easter Monday 21 April; 4 May is a Sunday -> Monday 5 May off.
    assert_year(
        Country::LV,
        2025,
        &[
            "2025-01-01",
            "2025-04-18",
            "2025-04-21",
            "2025-05-01",
            "2025-05-02",
            "2025-05-05",
            "2025-06-23",
            "2025-06-24",
            "2025-11-17",
            "2025-11-18",
            "2025-12-24",
            "2025-12-25",
            "2025-12-26",
            "2025-12-31",
        ],
        &["2025-05-10", "2025-11-08"],
    );
    assert_eq!(working_days_in_year(Country::LV, 2025), 249);
    let lv = WorkingDayCalendar::builtin(Country::LV);
    assert_eq!(
        lv.day_kind(d("2025-05-05")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2025-05-04"),
            name: "Latvijas Republikas Neatkarības deklarācijas pasludināšanas diena".into()
        }
    );
}

#[test]
fn lv_2026_matches_the_cabinet_order_with_saturdays_17_january_and_27_june() {
    // Good Friday 3 April, Easter Monday 6 April; 26 December (Saturday) does not move.
    assert_year(
        Country::LV,
        2026,
        &[
            "2026-01-01",
            "2026-01-02",
            "2026-04-03",
            "2026-04-06",
            "2026-05-01",
            "2026-05-04",
            "2026-06-22",
            "2026-06-23",
            "2026-06-24",
            "2026-11-18",
            "2026-12-24",
            "2026-12-25",
            "2026-12-31",
        ],
        &["2026-01-17", "2026-06-27"],
    );
    let lv = WorkingDayCalendar::builtin(Country::LV);
    assert_eq!(lv.day_kind(d("2026-12-28")).unwrap(), DayKind::WorkingDay);
    // January 2026: 21 working days, as published.
    assert_eq!(
        lv.working_days_in(d("2026-01-01"), d("2026-01-31"))
            .unwrap()
            .len(),
        21
    );
}

// --- Russia: art. 112 moves except 1-8 January; Government resolutions ---

#[test]
fn ru_2024_matches_resolution_1314() {
    assert_year(
        Country::RU,
        2024,
        &[
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-05",
            "2024-01-08",
            "2024-02-23",
            "2024-03-08",
            "2024-04-29",
            "2024-04-30",
            "2024-05-01",
            "2024-05-09",
            "2024-05-10",
            "2024-06-12",
            "2024-11-04",
            "2024-12-30",
            "2024-12-31",
        ],
        &["2024-04-27", "2024-11-02", "2024-12-28"],
    );
    assert_eq!(working_days_in_year(Country::RU, 2024), 248);
}

#[test]
fn ru_2025_matches_resolution_1335_which_overrides_the_weekend_moves() {
    // 23 February (Sunday) and 8 March (Saturday) were moved by the resolution to 8 May and
    // 13 June, so 24 February and 10 March stay working days.
    assert_year(
        Country::RU,
        2025,
        &[
            "2025-01-01",
            "2025-01-02",
            "2025-01-03",
            "2025-01-06",
            "2025-01-07",
            "2025-01-08",
            "2025-05-01",
            "2025-05-02",
            "2025-05-08",
            "2025-05-09",
            "2025-06-12",
            "2025-06-13",
            "2025-11-03",
            "2025-11-04",
            "2025-12-31",
        ],
        &["2025-11-01"],
    );
    assert_eq!(working_days_in_year(Country::RU, 2025), 247);
}

#[test]
fn ru_2026_matches_resolution_1466_and_article_112() {
    // 3 and 4 January -> 9 January and 31 December by the resolution; 8 March (Sunday) ->
    // 9 March and 9 May (Saturday) -> 11 May by art. 112.
    assert_year(
        Country::RU,
        2026,
        &[
            "2026-01-01",
            "2026-01-02",
            "2026-01-05",
            "2026-01-06",
            "2026-01-07",
            "2026-01-08",
            "2026-01-09",
            "2026-02-23",
            "2026-03-09",
            "2026-05-01",
            "2026-05-11",
            "2026-06-12",
            "2026-11-04",
            "2026-12-31",
        ],
        &[],
    );
    assert_eq!(working_days_in_year(Country::RU, 2026), 247);
    let ru = WorkingDayCalendar::builtin(Country::RU);
    assert_eq!(
        ru.day_kind(d("2026-03-09")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2026-03-08"),
            name: "Международный женский день".into()
        }
    );
}

#[test]
fn ru_2027_applies_article_112_to_may_and_june() {
    let ru = WorkingDayCalendar::builtin(Country::RU);
    for off in ["2027-05-03", "2027-05-10", "2027-06-14"] {
        assert!(!ru.is_working_day(d(off)).unwrap(), "{off}");
    }
}
