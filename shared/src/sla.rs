//! SLA states: where an open request stands against its due date on its country's
//! working-day calendar. On track; at risk when one working day or less is left; breached
//! after the due date. A request waiting on the customer is paused: its clock is stopped.

use std::str::FromStr;

use crate::names::Named;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, WorkingDayCalendar};
use crate::lifecycle::RequestState;

/// Where an open request stands against its due date.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
#[serde(rename_all = "snake_case")]
#[derive(sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SlaState {
    /// More than one working day is left before the due date.
    OnTrack,
    /// One working day or less is left before the due date.
    AtRisk,
    /// The due date has passed.
    Breached,
    /// Waiting on the customer: the clock is stopped.
    Paused,
}

impl SlaState {
    /// Every variant, in declaration order.
    pub const ALL: &'static [SlaState] = <SlaState as strum::VariantArray>::VARIANTS;

    /// The snake_case name stored in the database and shown in the API, e.g. `at_risk`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for SlaState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SlaState::parse_named(s, "SLA state")
    }
}

/// The SLA state on local date `today` of a request in `state` due on `due`.
pub fn sla_state(
    state: RequestState,
    due: NaiveDate,
    today: NaiveDate,
    calendar: &WorkingDayCalendar,
) -> Result<SlaState, CalendarError> {
    if state.waits_on_customer() {
        return Ok(SlaState::Paused);
    }
    if today > due {
        return Ok(SlaState::Breached);
    }
    // Working days left after today, up to and including the due date.
    let left = calendar.working_days_between(today, due)?;
    Ok(if left <= 1 {
        SlaState::AtRisk
    } else {
        SlaState::OnTrack
    })
}

/// The due date once a paused request (waiting on the customer after its decision, e.g. for
/// bank details) goes on: the clock was stopped, so the due date moves later by the working
/// days in `(paused_on, resumed_on]` on the request's calendar. The day the pause began counts
/// as used; the day it ended is given back. Returns the new due date and the days added.
pub fn due_after_pause(
    due: NaiveDate,
    paused_on: NaiveDate,
    resumed_on: NaiveDate,
    calendar: &WorkingDayCalendar,
) -> Result<(NaiveDate, u32), CalendarError> {
    let lost = calendar.working_days_between(paused_on, resumed_on)?.max(0);
    let lost = u32::try_from(lost).unwrap_or(u32::MAX);
    Ok((calendar.add_working_days(due, lost)?, lost))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Country;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn at_risk_with_one_working_day_left_across_a_weekend() {
        let by = WorkingDayCalendar::builtin(Country::BY);
        let approved = RequestState::Approved;
        // Due Monday 2026-05-04; on Friday 2026-05-01 (a holiday) one working day is left.
        assert_eq!(
            sla_state(approved, d("2026-05-04"), d("2026-04-30"), by).unwrap(),
            SlaState::AtRisk
        );
        assert_eq!(
            sla_state(approved, d("2026-05-04"), d("2026-04-29"), by).unwrap(),
            SlaState::OnTrack
        );
        assert_eq!(
            sla_state(approved, d("2026-05-04"), d("2026-05-04"), by).unwrap(),
            SlaState::AtRisk
        );
        assert_eq!(
            sla_state(approved, d("2026-05-04"), d("2026-05-05"), by).unwrap(),
            SlaState::Breached
        );
    }

    #[test]
    fn the_working_saturday_counts() {
        let by = WorkingDayCalendar::builtin(Country::BY);
        // Due Monday 2026-04-27; Saturday 2026-04-25 is a working day in Belarus, so on
        // Friday 2026-04-24 two working days are left (Saturday and Monday).
        assert_eq!(
            sla_state(RequestState::Approved, d("2026-04-27"), d("2026-04-24"), by).unwrap(),
            SlaState::OnTrack
        );
    }

    #[test]
    fn waiting_on_the_customer_stops_the_clock() {
        let kz = WorkingDayCalendar::builtin(Country::KZ);
        assert_eq!(
            sla_state(
                RequestState::NeedsBankDetails,
                d("2026-03-01"),
                d("2026-06-01"),
                kz
            )
            .unwrap(),
            SlaState::Paused
        );
    }

    #[test]
    fn a_pause_moves_the_due_date_by_the_working_days_it_lasted() {
        let kz = WorkingDayCalendar::builtin(Country::KZ);
        // Paused just before Nauryz and resumed after it: the due date moves by exactly the
        // working days the calendar counts in the pause, and lands that many working days on.
        let lost = kz
            .working_days_between(d("2026-03-19"), d("2026-03-25"))
            .unwrap();
        let (due, added) =
            due_after_pause(d("2026-03-20"), d("2026-03-19"), d("2026-03-25"), kz).unwrap();
        assert_eq!(i64::from(added), lost);
        assert_eq!(kz.working_days_between(d("2026-03-20"), due).unwrap(), lost);

        let by = WorkingDayCalendar::builtin(Country::BY);
        // Paused and resumed the same day: nothing moves.
        assert_eq!(
            due_after_pause(d("2026-05-04"), d("2026-04-29"), d("2026-04-29"), by).unwrap(),
            (d("2026-05-04"), 0)
        );
        // Paused Wednesday 2026-04-29, resumed Monday 2026-05-04: Thursday 30 April and
        // Monday 4 May are working days (1 May is a holiday), so two days are given back.
        assert_eq!(
            due_after_pause(d("2026-05-05"), d("2026-04-29"), d("2026-05-04"), by).unwrap(),
            (d("2026-05-07"), 2)
        );
    }
}
