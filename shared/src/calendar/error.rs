//! What can go wrong with working-day calendars: a date the data does not cover, a term that
//! ends after the data, a data file that is not valid, an unknown country.

use std::ops::RangeInclusive;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::Country;

/// An error from a working-day calendar. Every message names what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The date lies outside the years the calendar data covers: the calendar does not guess.
    #[error(
        "no {country} working-day calendar for {date}: the calendar data covers {}-{} only; \
         add the year (with its government decree) to the {country} calendar file",
        .years.start(),
        .years.end()
    )]
    OutOfRange {
        /// The country whose calendar was asked.
        country: Country,
        /// The date asked for.
        date: NaiveDate,
        /// The years the calendar data covers.
        years: RangeInclusive<i32>,
    },

    /// A term starting inside the data ends after its last day.
    #[error(
        "{term} from {from} end after the last day of the {country} calendar data ({}-{}); \
         add the next year (with its government decree) to the {country} calendar file",
        .years.start(),
        .years.end()
    )]
    TermBeyondData {
        /// The country whose calendar the term is counted in.
        country: Country,
        /// The date the term is counted from.
        from: NaiveDate,
        /// The term as a person would say it: "30 working days".
        term: String,
        /// The years the calendar data covers.
        years: RangeInclusive<i32>,
    },

    /// A calendar data file is not valid. (The file is named `file`, not `source`, because
    /// thiserror reserves a field named `source` for the underlying error.)
    #[error("{file}{}: `{field}`: {problem}", .line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Invalid {
        /// The file (or built-in data) the problem is in.
        file: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// The field (TOML key) with the problem.
        field: String,
        /// What is wrong and, where it helps, what to write instead.
        problem: String,
    },

    /// A calendar data file (or its directory) could not be read.
    #[error("cannot read calendar data {}: {source}", .path.display())]
    Io {
        /// The file or directory that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A country code that is not one of ours.
    #[error("unknown country {input:?}: expected one of BY, KZ, LV, RU")]
    UnknownCountry {
        /// The code as given.
        input: String,
    },
}
