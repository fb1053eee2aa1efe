//! National working-day calendars (BY, KZ, LV, RU) and the terms computed on them.
//!
//! Owns which days are working days in each country and the two kinds of term of POLICIES.md
//! ("N working days from D", "N calendar days from D"). A calendar is built from a data file
//! that operations staff edit (`shared/data/calendars/<country>.toml`, shipped compiled in):
//! - recurring public holidays, by fixed date or as an offset from Western or Orthodox Easter,
//!   optionally limited to a range of years (KZ Constitution Day moved in 2026);
//! - the country's rule for holidays on a weekend, applied in code: BY keeps them where they
//!   are; KZ and RU move the day off to the next working day (except KZ Orthodox Christmas and
//!   Kurban Ait, and RU's New Year holidays, Labour Code art. 112); LV moves 4 May and
//!   18 November to the next working day, the Monday;
//! - per year: holidays set for that year only (KZ Kurban Ait), the government's decreed days
//!   off and working Saturdays, and the source they were checked against.
//!
//! Lookups go through `bdays::HolidayCalendarCache`. A date outside the covered years is an
//! error ([`CalendarError::OutOfRange`]), never a guess.

mod calendars;
mod country;
mod data;
mod easter;
mod error;
mod rules;
mod terms;
mod working_day_calendar;

pub use calendars::Calendars;
pub use country::Country;
pub use easter::{EasterCalendar, easter_sunday};
pub use error::CalendarError;
pub use rules::{DayKind, DayTable, YearSource};
pub use working_day_calendar::WorkingDayCalendar;

#[cfg(test)]
mod tests;
