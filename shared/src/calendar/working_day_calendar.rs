//! One country's working-day calendar over the years its data covers: which days are working
//! days, answered from the `bdays` cache, with an explicit error for any date outside the data.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeInclusive;
use std::sync::OnceLock;

use bdays::{HolidayCalendar, HolidayCalendarCache};
use chrono::NaiveDate;

use super::data::DataSource;
use super::rules::{self, DayKind, DayTable, YearSource};
use super::{CalendarError, Country};

/// The working-day calendar of one country: public holidays, the country's weekend-move rule,
/// decreed days off and working Saturdays, for the years its data covers.
///
/// The checked methods (`is_working_day`, `day_kind`, `add_working_days`,
/// `add_calendar_days`, `working_days_between`, `working_days_in`) return
/// [`CalendarError::OutOfRange`] for dates outside [`years`](Self::years). The
/// [`bdays::HolidayCalendar`] implementation cannot return errors: it **panics** outside the
/// covered years (as `bdays::HolidayCalendarCache` does) rather than guess.
pub struct WorkingDayCalendar {
    pub(super) country: Country,
    pub(super) years: RangeInclusive<i32>,
    pub(super) first: NaiveDate,
    pub(super) last: NaiveDate,
    /// The last working day of the covered years; `None` only for a calendar without any.
    pub(super) last_working_day: Option<NaiveDate>,
    pub(super) cache: HolidayCalendarCache<NaiveDate>,
    table: DayTable,
    sources: BTreeMap<i32, YearSource>,
}

impl WorkingDayCalendar {
    /// Reads a calendar data file (`shared/data/calendars/<country>.toml` format).
    ///
    /// `source` names the file in error messages; errors name the line (when known), the
    /// field and the problem.
    pub fn from_toml(country: Country, text: &str, source: &str) -> Result<Self, CalendarError> {
        let src = DataSource { name: source, text };
        let file = src.parse()?;
        let resolved = rules::resolve(country, src, file)?;
        let first = NaiveDate::from_ymd_opt(*resolved.years.start(), 1, 1)
            .expect("resolve checks the years");
        let last = NaiveDate::from_ymd_opt(*resolved.years.end(), 12, 31)
            .expect("resolve checks the years");
        let cache = HolidayCalendarCache::new(resolved.table.clone(), first, last);
        let last_working_day = first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| cache.is_bday(*d))
            .last();
        Ok(WorkingDayCalendar {
            country,
            years: resolved.years,
            first,
            last,
            last_working_day,
            cache,
            table: resolved.table,
            sources: resolved.sources,
        })
    }

    /// The shipped calendar of `country` (`shared/data/calendars/*.toml`, compiled in), read
    /// once per process.
    ///
    /// # Panics
    /// If the shipped data is invalid, which the tests of this crate rule out.
    pub fn builtin(country: Country) -> &'static WorkingDayCalendar {
        static BUILTIN: [OnceLock<WorkingDayCalendar>; 4] = [const { OnceLock::new() }; 4];
        BUILTIN[country.index()].get_or_init(|| {
            let (name, text) = builtin_data(country);
            WorkingDayCalendar::from_toml(country, text, name)
                .unwrap_or_else(|e| panic!("the shipped calendar data is invalid: {e}"))
        })
    }

    /// The country this calendar is for.
    pub fn country(&self) -> Country {
        self.country
    }

    /// The years the data covers; every other date is an error.
    pub fn years(&self) -> RangeInclusive<i32> {
        self.years.clone()
    }

    /// Where the data for `year` comes from, and whether it is provisional.
    pub fn year_source(&self, year: i32) -> Option<&YearSource> {
        self.sources.get(&year)
    }

    /// Whether people work on `date`: Monday to Friday unless a holiday, a holiday moved off a
    /// weekend or a decreed day off; Saturday or Sunday only when decreed a working day.
    pub fn is_working_day(&self, date: NaiveDate) -> Result<bool, CalendarError> {
        self.check(date)?;
        Ok(self.cache.is_bday(date))
    }

    /// What kind of day `date` is, with the holiday's name or the decree's reason.
    pub fn day_kind(&self, date: NaiveDate) -> Result<DayKind, CalendarError> {
        self.check(date)?;
        Ok(self.table.kind(date))
    }

    /// The same calendar without the cache: one map lookup per date. For comparisons and
    /// benchmarks; it does not check the covered years.
    pub fn uncached(&self) -> &DayTable {
        &self.table
    }

    /// `Ok` when `date` is inside the covered years.
    pub(super) fn check(&self, date: NaiveDate) -> Result<(), CalendarError> {
        if date < self.first || date > self.last {
            return Err(CalendarError::OutOfRange {
                country: self.country,
                date,
                years: self.years(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for WorkingDayCalendar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkingDayCalendar")
            .field("country", &self.country)
            .field("years", &self.years)
            .finish_non_exhaustive()
    }
}

/// The `bdays` view of the calendar, answered from the cache.
///
/// # Panics
/// Every method panics for a date outside [`WorkingDayCalendar::years`]; use the checked
/// methods where a date may come from outside.
impl HolidayCalendar<NaiveDate> for WorkingDayCalendar {
    fn is_holiday(&self, date: NaiveDate) -> bool {
        self.cache.is_holiday(date)
    }

    /// Honours working Saturdays: a decreed working Saturday is a business day.
    fn is_bday(&self, date: NaiveDate) -> bool {
        self.cache.is_bday(date)
    }

    fn bdays(&self, d0: NaiveDate, d1: NaiveDate) -> i32 {
        self.cache.bdays(d0, d1)
    }
}

/// The shipped data file of `country`: its name for messages and its text.
fn builtin_data(country: Country) -> (&'static str, &'static str) {
    match country {
        Country::BY => (
            "shared/data/calendars/by.toml (built in)",
            include_str!("../../data/calendars/by.toml"),
        ),
        Country::KZ => (
            "shared/data/calendars/kz.toml (built in)",
            include_str!("../../data/calendars/kz.toml"),
        ),
        Country::LV => (
            "shared/data/calendars/lv.toml (built in)",
            include_str!("../../data/calendars/lv.toml"),
        ),
        Country::RU => (
            "shared/data/calendars/ru.toml (built in)",
            include_str!("../../data/calendars/ru.toml"),
        ),
    }
}
