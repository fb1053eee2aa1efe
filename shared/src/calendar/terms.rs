//! Terms on a working-day calendar, exactly as POLICIES.md defines them: "N working days
//! from D" (D never counts; the term ends on the N-th working day strictly after D) and
//! "N calendar days from D" (ends on D + N, moved to the next working day when the pack says
//! so), plus counting and listing working days.

use bdays::HolidayCalendar;
use chrono::{Days, NaiveDate};

use super::{CalendarError, WorkingDayCalendar};

/// Up to this many working days a term is found by stepping through the days; longer ones by
/// searching the cache's running count.
const SHORT_TERM_DAYS: u32 = 40;

impl WorkingDayCalendar {
    /// The end of "`n` working days from `from`": the `n`-th working day strictly after
    /// `from` (`from` itself never counts, whatever kind of day it is). `n = 0` gives `from`.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        self.check(from)?;
        if n == 0 {
            return Ok(from);
        }
        if i64::from(n) > self.count_after(from, self.last) {
            return Err(self.beyond_data(from, format!("{n} working days")));
        }
        if n <= SHORT_TERM_DAYS {
            // Short terms: step through the cached days, a few nanoseconds each.
            let mut date = from;
            let mut left = n;
            while left > 0 {
                date = date
                    .succ_opt()
                    .expect("a working day follows inside the data");
                if self.cache.is_bday(date) {
                    left -= 1;
                }
            }
            return Ok(date);
        }
        // The n-th working day after `from` is the first date whose count of working days
        // in (from, date] reaches n. The cache counts in constant time: gallop to a date that
        // reaches n (about 1.5 n days away in practice), then binary-search below it.
        let target = i64::from(n);
        let count_to = |offset: i64| self.count_after(from, from + chrono::TimeDelta::days(offset));
        let last_offset = (self.last - from).num_days();
        let (mut below, mut reached) = (0, (target + target / 2 + 16).min(last_offset));
        while count_to(reached) < target {
            below = reached;
            reached = (reached * 2).min(last_offset);
        }
        while reached - below > 1 {
            let middle = below + (reached - below) / 2;
            if count_to(middle) >= target {
                reached = middle;
            } else {
                below = middle;
            }
        }
        let end = from + chrono::TimeDelta::days(reached);
        debug_assert!(self.cache.is_bday(end));
        Ok(end)
    }

    /// The end of "`n` calendar days from `from`": `from + n`; when
    /// `extend_to_working_day` is true and that day is not a working day, the next working
    /// day. Without the extension the end may lie after the covered years (no calendar is
    /// needed to add days); with it, the end must be inside them.
    pub fn add_calendar_days(
        &self,
        from: NaiveDate,
        n: u32,
        extend_to_working_day: bool,
    ) -> Result<NaiveDate, CalendarError> {
        self.check(from)?;
        let term = || {
            let moved = if extend_to_working_day {
                " (moved to a working day)"
            } else {
                ""
            };
            format!("{n} calendar days{moved}")
        };
        let end = from
            .checked_add_days(Days::new(u64::from(n)))
            .ok_or_else(|| self.beyond_data(from, term()))?;
        if !extend_to_working_day {
            return Ok(end);
        }
        if end > self.last {
            return Err(self.beyond_data(from, term()));
        }
        if self.cache.is_bday(end) {
            return Ok(end);
        }
        match self.last_working_day {
            Some(last_working) if end < last_working => Ok(self.cache.to_bday(end, true)),
            _ => Err(self.beyond_data(from, term())),
        }
    }

    /// The number of working days in `(from, to]`; negative (minus the count in `(to, from]`)
    /// when `to` is before `from`. So `working_days_between(d, add_working_days(d, n)) == n`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<i64, CalendarError> {
        self.check(from)?;
        self.check(to)?;
        Ok(if from <= to {
            self.count_after(from, to)
        } else {
            -self.count_after(to, from)
        })
    }

    /// Every working day from `first` to `last`, both included, in order. Empty when `last`
    /// is before `first`.
    pub fn working_days_in(
        &self,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<NaiveDate>, CalendarError> {
        self.check(first)?;
        self.check(last)?;
        Ok(first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter(|d| self.cache.is_bday(*d))
            .collect())
    }

    /// Working days in `(a, b]`, for `a <= b` inside the covered years, in constant time from
    /// the cache's running count.
    fn count_after(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        let Some(last_working) = self.last_working_day else {
            return 0;
        };
        // No working day follows the last one, so counting up to it is the same; and the
        // cache can then always find a working day on or after each end.
        let (a, b) = (a.min(last_working), b.min(last_working));
        // The cache counts from the first working day on or after `a` to the first on or
        // after `b`: correct both ends back to the days themselves.
        let not_working = |d: NaiveDate| i64::from(!self.cache.is_bday(d));
        i64::from(self.cache.bdays(a, b)) - not_working(b) + not_working(a)
    }

    fn beyond_data(&self, from: NaiveDate, term: String) -> CalendarError {
        CalendarError::TermBeyondData {
            country: self.country,
            from,
            term,
            years: self.years(),
        }
    }
}
