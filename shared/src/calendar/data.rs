//! The calendar data file format (`shared/data/calendars/<country>.toml`) and the reading of
//! it: TOML syntax, field types, dates, and where in the file each value sits, so that every
//! problem is reported with its file, line and field.
//!
//! Shape of a file (see the shipped files for complete, commented examples):
//! ```toml
//! country = "KZ"
//! weekend_rule = "next_working_day"      # or "stay"
//! fixed_holidays = [ { month = 3, day = 8, name = "...", moves = true }, ... ]
//! easter_holidays = [ { easter = "orthodox", offset = 9, name = "..." }, ... ]
//!
//! [years.2026]
//! source = "decree number, title and date"
//! holidays = [ { date = 2026-05-27, name = "...", moves = false } ]
//! days_off = [ { date = 2026-04-20, name = "...", moved_from = 2026-01-04 } ]
//! working_saturdays = [ { date = 2026-04-25, compensates = 2026-04-20 } ]
//! ```

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;
use toml::value::Datetime;

use super::CalendarError;
use super::easter::EasterCalendar;

/// What a country does with a public holiday that falls on a Saturday or Sunday.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WeekendRule {
    /// Nothing: the day off is lost (BY).
    Stay,
    /// The next working day after the holiday becomes a day off, for the holidays marked
    /// `moves = true` (KZ, RU, LV for 4 May and 18 November).
    NextWorkingDay,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CalendarFile {
    pub country: Spanned<String>,
    pub weekend_rule: Spanned<WeekendRule>,
    #[serde(default)]
    pub fixed_holidays: Vec<FixedHolidayEntry>,
    #[serde(default)]
    pub easter_holidays: Vec<EasterHolidayEntry>,
    pub years: BTreeMap<Spanned<String>, YearEntry>,
}

/// A holiday on the same day every year, optionally only from or until some year.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FixedHolidayEntry {
    pub month: Spanned<u32>,
    pub day: Spanned<u32>,
    pub name: Spanned<String>,
    pub moves: Option<Spanned<bool>>,
    pub from_year: Option<Spanned<i32>>,
    pub until_year: Option<Spanned<i32>>,
}

/// A holiday a number of days after (or before) Easter Sunday.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EasterHolidayEntry {
    pub easter: Spanned<EasterCalendar>,
    pub offset: Spanned<i64>,
    pub name: Spanned<String>,
    pub moves: Option<Spanned<bool>>,
    pub from_year: Option<Spanned<i32>>,
    pub until_year: Option<Spanned<i32>>,
}

/// One year of data: where it comes from and what the government decided for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct YearEntry {
    pub source: Spanned<String>,
    #[serde(default)]
    pub provisional: bool,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub holidays: Vec<HolidayEntry>,
    #[serde(default)]
    pub days_off: Vec<DayOffEntry>,
    #[serde(default)]
    pub working_saturdays: Vec<WorkingSaturdayEntry>,
}

/// A holiday set for one year only (KZ Kurban Ait, a one-off national holiday).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HolidayEntry {
    pub date: Spanned<Datetime>,
    pub name: Spanned<String>,
    pub moves: Option<Spanned<bool>>,
}

/// A weekday the government made a day off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DayOffEntry {
    pub date: Spanned<Datetime>,
    pub name: Spanned<String>,
    /// The weekend holiday whose day off the decree moved here (RU: "с субботы 4 января на
    /// пятницу 2 мая"); that holiday is then not moved by the weekend rule.
    pub moved_from: Option<Spanned<Datetime>>,
}

/// A Saturday (rarely a Sunday) the government made a working day.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkingSaturdayEntry {
    pub date: Spanned<Datetime>,
    /// The day off it is worked for; must be one of the file's `days_off`.
    pub compensates: Spanned<Datetime>,
}

/// The text of one calendar data file and the name to report it under.
#[derive(Clone, Copy)]
pub(crate) struct DataSource<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl DataSource<'_> {
    /// Reads the TOML text into the file structure, reporting syntax and type problems with
    /// their line and field.
    pub fn parse(&self) -> Result<CalendarFile, CalendarError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span();
            let message = e.message().trim().replace('\n', " ");
            let field = quoted_field(&message)
                .or_else(|| span.clone().and_then(|s| self.key_before(s.start)))
                .unwrap_or_else(|| "(document)".to_owned());
            CalendarError::Invalid {
                file: self.name.to_owned(),
                line: span.map(|s| self.line_of(s.start)),
                field,
                problem: message,
            }
        })
    }

    /// A problem with the value at `span`.
    pub fn invalid(
        &self,
        span: Range<usize>,
        field: &str,
        problem: impl Into<String>,
    ) -> CalendarError {
        CalendarError::Invalid {
            file: self.name.to_owned(),
            line: Some(self.line_of(span.start)),
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// A problem that belongs to no single value.
    pub fn invalid_file(&self, field: &str, problem: impl Into<String>) -> CalendarError {
        CalendarError::Invalid {
            file: self.name.to_owned(),
            line: None,
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// A TOML value that must be a plain local date (`2026-04-25`, no time, no offset).
    pub fn date(&self, value: &Spanned<Datetime>, field: &str) -> Result<NaiveDate, CalendarError> {
        let dt = value.get_ref();
        let not_a_date = || {
            self.invalid(
                value.span(),
                field,
                format!("expected a date such as 2026-04-25, found {dt}"),
            )
        };
        match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .ok_or_else(not_a_date)
            }
            _ => Err(not_a_date()),
        }
    }

    /// 1-based line number of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The key written just before `offset` (`date` in `{ date = 2026-02-30 }`), or the
    /// nearest table header above it.
    fn key_before(&self, offset: usize) -> Option<String> {
        let end = offset.min(self.text.len());
        let before = self.text.get(..end)?;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let on_line = before[line_start..].trim_end();
        if let Some(lhs) = on_line.strip_suffix('=') {
            let key: String = lhs
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !key.is_empty() {
                return Some(key);
            }
        }
        before.lines().rev().find_map(|line| {
            let line = line.trim();
            line.strip_prefix('[')
                .and_then(|rest| rest.split(']').next())
                .map(|header| header.trim_matches('[').trim().to_owned())
        })
    }
}

/// The first `name` in backquotes in a serde message ("missing field `source`").
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    let name = &message[start..start + len];
    let is_key = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (is_key && (message.contains("field") || message.contains("key"))).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> DataSource<'_> {
        DataSource {
            name: "test.toml",
            text,
        }
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let text = "country = \"BY\"\nweekend_rule = \"stay\"\nyears = oops\n";
        let err = source(text).parse().unwrap_err();
        match err {
            CalendarError::Invalid {
                file, line, field, ..
            } => {
                assert_eq!(file, "test.toml");
                assert_eq!(line, Some(3));
                assert_eq!(field, "years");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn missing_fields_are_named() {
        let text = "country = \"BY\"\nweekend_rule = \"stay\"\n[years.2026]\nnote = \"x\"\n";
        let err = source(text).parse().unwrap_err();
        let CalendarError::Invalid { field, problem, .. } = err else {
            panic!("expected Invalid")
        };
        assert_eq!(field, "source");
        assert!(problem.contains("missing field"), "{problem}");
    }

    #[test]
    fn misspelt_fields_are_rejected_by_name() {
        let text = "country = \"BY\"\nweekend_rule = \"stay\"\n[years.2026]\nsource = \"x\"\n\
                    working_saturday = []\n";
        let err = source(text).parse().unwrap_err();
        let CalendarError::Invalid { field, line, .. } = err else {
            panic!("expected Invalid")
        };
        assert_eq!(field, "working_saturday");
        assert_eq!(line, Some(5));
    }

    #[test]
    fn unknown_weekend_rule_lists_the_choices() {
        let text = "country = \"BY\"\nweekend_rule = \"monday\"\n[years.2026]\nsource = \"x\"\n";
        let err = source(text).parse().unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("weekend_rule"), "{err}");
        assert!(err.contains("next_working_day"), "{err}");
    }

    #[test]
    fn dates_must_be_plain_dates() {
        let text = "country = \"BY\"\nweekend_rule = \"stay\"\n[years.2026]\nsource = \"x\"\n\
                    days_off = [ { date = 2026-04-20T10:00:00, name = \"x\" } ]\n";
        let src = source(text);
        let file = src.parse().unwrap();
        let entry = &file.years.values().next().unwrap().days_off[0];
        let err = src.date(&entry.date, "date").unwrap_err();
        let CalendarError::Invalid { line, field, .. } = err else {
            panic!("expected Invalid")
        };
        assert_eq!((line, field.as_str()), (Some(5), "date"));
    }

    #[test]
    fn key_before_finds_inline_keys_and_headers() {
        let text = "[years.2026]\nsource = \"x\"\ndays_off = [ { date = 2026-02-30 } ]\n";
        let src = source(text);
        let at_date = text.find("2026-02-30").unwrap();
        assert_eq!(src.key_before(at_date).as_deref(), Some("date"));
        let at_source_value = text.find("\"x\"").unwrap();
        assert_eq!(src.key_before(at_source_value).as_deref(), Some("source"));
        assert_eq!(src.key_before(text.len()).as_deref(), Some("years.2026"));
    }
}
