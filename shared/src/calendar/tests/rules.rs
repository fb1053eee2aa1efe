//! The rules as code, on small synthetic data files: weekend moves (including runs of weekend
//! holidays and decrees that override a move), Easter offsets, years of validity, and every
//! check a data file must pass, each reported with its file, line and field.

use bdays::HolidayCalendar;
use chrono::NaiveDate;

use crate::calendar::{CalendarError, Calendars, Country, DayKind, WorkingDayCalendar};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn load(country: Country, text: &str) -> Result<WorkingDayCalendar, CalendarError> {
    WorkingDayCalendar::from_toml(country, text, "synthetic.toml")
}

fn working(calendar: &WorkingDayCalendar, date: &str) -> bool {
    calendar.is_working_day(d(date)).unwrap()
}

/// The parts of an `Invalid` error, or a panic naming what came instead.
fn invalid(result: Result<WorkingDayCalendar, CalendarError>) -> (Option<usize>, String, String) {
    match result {
        Err(CalendarError::Invalid {
            file,
            line,
            field,
            problem,
        }) => {
            assert_eq!(file, "synthetic.toml");
            (line, field, problem)
        }
        Err(other) => panic!("expected an Invalid error, got {other}"),
        Ok(calendar) => panic!("expected an Invalid error, got {calendar:?}"),
    }
}

const NAURYZ_2026: &str = r#"
country = "KZ"
weekend_rule = "next_working_day"
fixed_holidays = [
  { month = 3, day = 21, name = "Nauryz", moves = true },
  { month = 3, day = 22, name = "Nauryz", moves = true },
  { month = 3, day = 23, name = "Nauryz", moves = true },
  { month = 1, day = 4, name = "Sunday, no move", moves = false },
]
[years.2026]
source = "test"
"#;

#[test]
fn weekend_holidays_move_to_the_next_free_working_days_in_order() {
    // 21 (Sat) and 22 (Sun) March 2026 move past Monday's own holiday to Tuesday and Wednesday.
    let kz = load(Country::KZ, NAURYZ_2026).unwrap();
    for off in ["2026-03-23", "2026-03-24", "2026-03-25"] {
        assert!(!working(&kz, off), "{off}");
    }
    assert!(working(&kz, "2026-03-26"));
    assert_eq!(
        kz.day_kind(d("2026-03-25")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2026-03-22"),
            name: "Nauryz".into()
        }
    );
}

#[test]
fn holidays_marked_not_to_move_stay_on_the_weekend() {
    let kz = load(Country::KZ, NAURYZ_2026).unwrap();
    // 4 January 2026 is a Sunday holiday with moves = false: Monday 5 January is worked.
    assert!(working(&kz, "2026-01-05"));
    assert_eq!(
        kz.day_kind(d("2026-01-04")).unwrap(),
        DayKind::PublicHoliday {
            name: "Sunday, no move".into()
        }
    );
}

#[test]
fn the_stay_rule_moves_nothing() {
    let text = r#"
country = "BY"
weekend_rule = "stay"
fixed_holidays = [
  { month = 3, day = 21, name = "A" },
  { month = 3, day = 22, name = "B" },
]
[years.2026]
source = "test"
"#;
    let by = load(Country::BY, text).unwrap();
    assert!(working(&by, "2026-03-23"));
    assert!(working(&by, "2026-03-24"));
    assert!(by.is_holiday(d("2026-03-21")));
}

#[test]
fn a_move_skips_decreed_days_off_and_other_holidays() {
    // 2 May 2026 (Sat) holiday; Monday 4 May is a decreed day off and Tuesday 5 May a
    // holiday, so the day off lands on Wednesday 6 May.
    let text = r#"
country = "RU"
weekend_rule = "next_working_day"
fixed_holidays = [
  { month = 5, day = 2, name = "Sat holiday", moves = true },
  { month = 5, day = 5, name = "Tue holiday", moves = true },
]
[years.2026]
source = "test"
days_off = [ { date = 2026-05-04, name = "decreed" } ]
"#;
    let ru = load(Country::RU, text).unwrap();
    assert_eq!(
        ru.day_kind(d("2026-05-06")).unwrap(),
        DayKind::MovedHoliday {
            holiday: d("2026-05-02"),
            name: "Sat holiday".into()
        }
    );
    assert!(working(&ru, "2026-05-07"));
}

#[test]
fn a_decree_that_moves_a_weekend_holiday_cancels_its_automatic_move() {
    // RU 2025: "с воскресенья 23 февраля на четверг 8 мая": 24 February stays a working day.
    let text = r#"
country = "RU"
weekend_rule = "next_working_day"
fixed_holidays = [ { month = 2, day = 23, name = "Defender", moves = true } ]
[years.2025]
source = "test"
days_off = [ { date = 2025-05-08, name = "from 23 February", moved_from = 2025-02-23 } ]
"#;
    let ru = load(Country::RU, text).unwrap();
    assert!(working(&ru, "2025-02-24"));
    assert!(!working(&ru, "2025-05-08"));
    let without_decree = text.replace(
        "days_off = [ { date = 2025-05-08, name = \"from 23 February\", moved_from = 2025-02-23 } ]",
        "",
    );
    let ru = load(Country::RU, &without_decree).unwrap();
    assert!(
        !working(&ru, "2025-02-24"),
        "without the decree art. 112 moves it"
    );
    assert!(working(&ru, "2025-05-08"));
}

#[test]
fn easter_holidays_follow_their_easter() {
    let text = r#"
country = "LV"
weekend_rule = "next_working_day"
easter_holidays = [
  { easter = "western", offset = -2, name = "Good Friday", moves = false },
  { easter = "western", offset = 1, name = "Easter Monday", moves = false },
  { easter = "orthodox", offset = 9, name = "Radunitsa", moves = false },
]
[years.2025]
source = "test"
[years.2026]
source = "test"
"#;
    let lv = load(Country::LV, text).unwrap();
    // Western Easter: 20 April 2025, 5 April 2026. Orthodox: 20 April 2025, 12 April 2026.
    for off in [
        "2025-04-18",
        "2025-04-21",
        "2025-04-29",
        "2026-04-03",
        "2026-04-06",
        "2026-04-21",
    ] {
        assert!(!working(&lv, off), "{off}");
    }
    assert!(working(&lv, "2026-04-07"));
}

#[test]
fn holidays_apply_only_in_their_years() {
    let text = r#"
country = "KZ"
weekend_rule = "next_working_day"
fixed_holidays = [
  { month = 8, day = 26, name = "old", moves = true, until_year = 2025 },
  { month = 3, day = 16, name = "new", moves = true, from_year = 2026 },
]
[years.2025]
source = "test"
[years.2026]
source = "test"
"#;
    let kz = load(Country::KZ, text).unwrap();
    assert!(!working(&kz, "2025-08-26"));
    assert!(working(&kz, "2026-08-26"));
    assert!(working(&kz, "2025-03-17"));
    assert!(!working(&kz, "2026-03-16"));
}

#[test]
fn working_saturdays_and_sundays_are_business_days_for_bdays() {
    let text = r#"
country = "KZ"
weekend_rule = "next_working_day"
[years.2025]
source = "test"
days_off = [ { date = 2025-01-03, name = "moved" } ]
working_saturdays = [ { date = 2025-01-05, compensates = 2025-01-03 } ]
"#;
    let kz = load(Country::KZ, text).unwrap();
    assert!(kz.is_bday(d("2025-01-05")), "a decreed working Sunday");
    assert!(!kz.is_bday(d("2025-01-03")));
    assert!(kz.is_holiday(d("2025-01-03")));
    assert!(!kz.is_bday(d("2025-01-04")));
}

#[test]
fn the_bdays_trait_honours_working_saturdays_in_the_shipped_data() {
    let by = WorkingDayCalendar::builtin(Country::BY);
    assert!(by.is_bday(d("2026-04-25")));
    assert!(!by.is_bday(d("2026-04-20")));
    // bdays' own arithmetic, from the cache: Friday 24 April + 1 business day = Saturday.
    assert_eq!(by.advance_bdays(d("2026-04-24"), 1), d("2026-04-25"));
    assert_eq!(by.bdays(d("2026-03-20"), d("2026-05-05")), 30);
}

#[test]
#[should_panic(expected = "out of bounds")]
fn the_bdays_trait_panics_outside_the_data_rather_than_guess() {
    WorkingDayCalendar::builtin(Country::BY).is_bday(d("2028-01-03"));
}

// --- checks on the data ---

const HEADER_RU: &str = "country = \"RU\"\nweekend_rule = \"next_working_day\"\n";

#[test]
fn a_working_saturday_on_a_weekday_is_reported_with_its_line() {
    let text = format!(
        "{HEADER_RU}[years.2026]\nsource = \"test\"\n\
         days_off = [ {{ date = 2026-04-20, name = \"x\" }} ]\n\
         working_saturdays = [ {{ date = 2026-04-27, compensates = 2026-04-20 }} ]\n"
    );
    let (line, field, problem) = invalid(load(Country::RU, &text));
    assert_eq!(line, Some(6));
    assert_eq!(field, "working_saturdays");
    assert!(problem.contains("Mon"), "{problem}");
}

#[test]
fn a_working_saturday_must_compensate_a_listed_day_off() {
    let text = format!(
        "{HEADER_RU}[years.2026]\nsource = \"test\"\n\
         working_saturdays = [ {{ date = 2026-04-25, compensates = 2026-04-20 }} ]\n"
    );
    let (line, field, problem) = invalid(load(Country::RU, &text));
    assert_eq!((line, field.as_str()), (Some(5), "compensates"));
    assert!(problem.contains("2026-04-20"), "{problem}");
}

#[test]
fn a_day_off_must_be_a_weekday_that_is_not_already_a_holiday() {
    let on_weekend = format!(
        "{HEADER_RU}[years.2026]\nsource = \"t\"\ndays_off = [ {{ date = 2026-04-25, name = \"x\" }} ]\n"
    );
    let (line, field, _) = invalid(load(Country::RU, &on_weekend));
    assert_eq!((line, field.as_str()), (Some(5), "days_off"));

    let on_holiday = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 6, day = 12, name = \"Russia Day\", moves = true }} ]\n\
         [years.2026]\nsource = \"t\"\ndays_off = [ {{ date = 2026-06-12, name = \"x\" }} ]\n"
    );
    let (_, _, problem) = invalid(load(Country::RU, &on_holiday));
    assert!(problem.contains("Russia Day"), "{problem}");
}

#[test]
fn moved_from_must_name_a_weekend_holiday_once() {
    let not_holiday = format!(
        "{HEADER_RU}[years.2026]\nsource = \"t\"\n\
         days_off = [ {{ date = 2026-05-08, name = \"x\", moved_from = 2026-05-02 }} ]\n"
    );
    let (line, field, _) = invalid(load(Country::RU, &not_holiday));
    assert_eq!((line, field.as_str()), (Some(5), "moved_from"));

    let twice = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 5, day = 2, name = \"Sat\", moves = true }} ]\n\
         [years.2026]\nsource = \"t\"\n\
         days_off = [\n\
           {{ date = 2026-05-08, name = \"x\", moved_from = 2026-05-02 }},\n\
           {{ date = 2026-05-12, name = \"y\", moved_from = 2026-05-02 }},\n\
         ]\n"
    );
    let (line, field, problem) = invalid(load(Country::RU, &twice));
    assert_eq!((line, field.as_str()), (Some(8), "moved_from"));
    assert!(problem.contains("already moved"), "{problem}");
}

#[test]
fn dates_must_sit_under_their_own_year() {
    let text = format!(
        "{HEADER_RU}[years.2025]\nsource = \"t\"\n[years.2026]\nsource = \"t\"\n\
         days_off = [ {{ date = 2025-05-08, name = \"x\" }} ]\n"
    );
    let (line, field, problem) = invalid(load(Country::RU, &text));
    assert_eq!((line, field.as_str()), (Some(7), "date"));
    assert!(problem.contains("[years.2025]"), "{problem}");
}

#[test]
fn years_must_be_contiguous_real_and_present() {
    let gap = format!("{HEADER_RU}[years.2024]\nsource = \"t\"\n[years.2026]\nsource = \"t\"\n");
    let (_, field, problem) = invalid(load(Country::RU, &gap));
    assert_eq!(field, "years");
    assert!(problem.contains("2025 is missing"), "{problem}");

    let not_a_year = format!("{HEADER_RU}[years.20x6]\nsource = \"t\"\n");
    let (line, field, _) = invalid(load(Country::RU, &not_a_year));
    assert_eq!((line, field.as_str()), (Some(3), "years"));

    let none = format!("{HEADER_RU}[years]\n");
    let (_, field, _) = invalid(load(Country::RU, &none));
    assert_eq!(field, "years");

    let empty_source = format!("{HEADER_RU}[years.2026]\nsource = \"  \"\n");
    let (line, field, _) = invalid(load(Country::RU, &empty_source));
    assert_eq!((line, field.as_str()), (Some(4), "source"));
}

#[test]
fn the_file_must_be_for_the_country_it_is_loaded_as() {
    let text = format!("{HEADER_RU}[years.2026]\nsource = \"t\"\n");
    let (line, field, problem) = invalid(load(Country::KZ, &text));
    assert_eq!((line, field.as_str()), (Some(1), "country"));
    assert!(
        problem.contains("RU") && problem.contains("KZ"),
        "{problem}"
    );
}

#[test]
fn moves_is_required_where_holidays_move_and_forbidden_where_they_stay() {
    let missing = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 6, day = 12, name = \"Russia Day\" }} ]\n\
         [years.2026]\nsource = \"t\"\n"
    );
    let (line, field, problem) = invalid(load(Country::RU, &missing));
    assert_eq!((line, field.as_str()), (Some(3), "moves"));
    assert!(problem.contains("Russia Day"), "{problem}");

    let forbidden = "country = \"BY\"\nweekend_rule = \"stay\"\n\
                     fixed_holidays = [ { month = 1, day = 1, name = \"NY\", moves = true } ]\n\
                     [years.2026]\nsource = \"t\"\n";
    let (line, field, _) = invalid(load(Country::BY, forbidden));
    assert_eq!((line, field.as_str()), (Some(3), "moves"));
}

#[test]
fn impossible_fixed_dates_and_far_easter_offsets_are_rejected() {
    let bad_day = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 2, day = 30, name = \"x\", moves = true }} ]\n\
         [years.2026]\nsource = \"t\"\n"
    );
    let (line, field, _) = invalid(load(Country::RU, &bad_day));
    assert_eq!((line, field.as_str()), (Some(3), "day"));

    let bad_offset = format!(
        "{HEADER_RU}easter_holidays = [ {{ easter = \"western\", offset = 300, name = \"x\", moves = false }} ]\n\
         [years.2026]\nsource = \"t\"\n"
    );
    let (_, field, _) = invalid(load(Country::RU, &bad_offset));
    assert_eq!(field, "offset");
}

#[test]
fn a_one_year_holiday_may_not_repeat_a_rule_holiday() {
    let text = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 6, day = 12, name = \"Russia Day\", moves = true }} ]\n\
         [years.2026]\nsource = \"t\"\n\
         holidays = [ {{ date = 2026-06-12, name = \"again\", moves = true }} ]\n"
    );
    let (line, field, _) = invalid(load(Country::RU, &text));
    assert_eq!((line, field.as_str()), (Some(6), "date"));
}

#[test]
fn a_move_past_the_last_year_asks_for_the_next_year() {
    // 31 December 2023 is a Sunday; its day off would be in 2024, which the file lacks.
    let text = format!(
        "{HEADER_RU}fixed_holidays = [ {{ month = 12, day = 31, name = \"NYE\", moves = true }} ]\n\
         [years.2023]\nsource = \"t\"\n"
    );
    let (_, field, problem) = invalid(load(Country::RU, &text));
    assert_eq!(field, "years");
    assert!(problem.contains("add the next year"), "{problem}");
}

#[test]
fn error_messages_name_file_line_and_field() {
    let text = format!(
        "{HEADER_RU}[years.2026]\nsource = \"test\"\n\
         working_saturdays = [ {{ date = 2026-04-27, compensates = 2026-04-20 }} ]\n"
    );
    let message = load(Country::RU, &text).unwrap_err().to_string();
    assert!(
        message.starts_with("synthetic.toml, line 5: `working_saturdays`: "),
        "{message}"
    );
}

// --- loading a directory that operations staff edit ---

/// A fresh directory under the system temp dir, removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> ScratchDir {
        let path = std::env::temp_dir().join(format!(
            "refundd-calendar-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir(path)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_dir_uses_the_edited_files_and_the_shipped_ones_for_the_rest() {
    let dir = ScratchDir::new("edited");
    // An operator adds a (fictional) extra day off to the shipped BY data.
    let shipped = include_str!("../../../data/calendars/by.toml");
    let edited = shipped.replace(
        "days_off = [\n  { date = 2026-04-20,",
        "days_off = [\n  { date = 2026-06-01, name = \"test day off\" },\n  { date = 2026-04-20,",
    );
    assert_ne!(edited, shipped, "the edit must apply");
    std::fs::write(dir.0.join("by.toml"), edited).unwrap();

    let calendars = Calendars::load_dir(&dir.0).unwrap();
    assert!(
        !calendars
            .get(Country::BY)
            .is_working_day(d("2026-06-01"))
            .unwrap()
    );
    assert!(
        WorkingDayCalendar::builtin(Country::BY)
            .is_working_day(d("2026-06-01"))
            .unwrap()
    );
    // No kz.toml in the directory: the shipped KZ calendar.
    assert!(
        !calendars
            .get(Country::KZ)
            .is_working_day(d("2026-03-25"))
            .unwrap()
    );
}

#[test]
fn load_dir_reports_the_path_of_an_invalid_file() {
    let dir = ScratchDir::new("invalid");
    std::fs::write(
        dir.0.join("lv.toml"),
        "country = \"LV\"\nweekend_rule = \"stay\"\n",
    )
    .unwrap();
    let err = Calendars::load_dir(&dir.0).unwrap_err();
    let CalendarError::Invalid { file, field, .. } = &err else {
        panic!("expected Invalid, got {err}")
    };
    assert!(file.ends_with("lv.toml"), "{file}");
    assert_eq!(field, "years");
}

#[test]
fn load_dir_rejects_a_directory_that_does_not_exist() {
    let missing = std::env::temp_dir().join("refundd-calendar-no-such-dir-7f3a");
    let err = Calendars::load_dir(&missing).unwrap_err();
    assert!(matches!(err, CalendarError::Io { .. }), "{err}");
}
