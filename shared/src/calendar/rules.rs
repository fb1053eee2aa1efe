//! Turning a country's rules and decrees into its special days: public holidays (fixed dates,
//! Easter-based dates, holidays set for one year), the country's rule for holidays that fall
//! on a weekend, decreed days off and working Saturdays. Everything a data file may get wrong
//! is checked here and reported with its line and field.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Range, RangeInclusive};

use bdays::HolidayCalendar;
use chrono::{Datelike, Days, NaiveDate, Weekday};
use toml::Spanned;

use super::CalendarError;
use super::Country;
use super::data::{CalendarFile, DataSource, WeekendRule, YearEntry};
use super::easter::easter_sunday;

/// Years a data file may cover: the range in which Easter is computed here.
const SUPPORTED_YEARS: RangeInclusive<i32> = 1900..=2099;

/// What kind of day a date is in a country.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DayKind {
    /// An ordinary Monday to Friday.
    WorkingDay,
    /// An ordinary Saturday or Sunday.
    Weekend,
    /// A public holiday that is a day off (on whatever day of the week it falls).
    PublicHoliday {
        /// The holiday's name (several names joined with `; ` when holidays share the date).
        name: String,
    },
    /// A working day that became a day off because the public holiday `holiday` fell on a
    /// weekend (KZ, RU, LV rule).
    MovedHoliday {
        /// The date of the public holiday that fell on a weekend.
        holiday: NaiveDate,
        /// That holiday's name.
        name: String,
    },
    /// A weekday the government made a day off (a transfer).
    DecreedDayOff {
        /// The name the calendar data file gives the day off.
        name: String,
    },
    /// A Saturday (rarely Sunday) the government made a working day, worked for `compensates`.
    WorkingWeekendDay {
        /// The day off this working day makes up for.
        compensates: NaiveDate,
    },
}

impl DayKind {
    /// Whether people work on a day of this kind.
    pub fn is_working(&self) -> bool {
        matches!(
            self,
            DayKind::WorkingDay | DayKind::WorkingWeekendDay { .. }
        )
    }
}

/// Where one year of data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YearSource {
    /// The decree (number, title, date) or law the year was checked against.
    pub source: String,
    /// True when the year's decrees were not published or not found when the data was
    /// written: holidays and weekend moves are there, transfers may be missing.
    pub provisional: bool,
    /// Anything a reader of the data should know about the year.
    pub note: Option<String>,
}

/// Every special day of a country over the covered years, without any cache: a plain map
/// lookup per date. Implements [`bdays::HolidayCalendar`]; dates outside the covered years are
/// ordinary weekdays and weekends to it, so use it only where the range is checked.
#[derive(Clone, Debug)]
pub struct DayTable {
    special: BTreeMap<NaiveDate, DayKind>,
}

impl DayTable {
    /// The kind of `date` (no range check).
    pub fn kind(&self, date: NaiveDate) -> DayKind {
        match self.special.get(&date) {
            Some(kind) => kind.clone(),
            None if bdays::is_weekend(date) => DayKind::Weekend,
            None => DayKind::WorkingDay,
        }
    }
}

impl HolidayCalendar<NaiveDate> for DayTable {
    fn is_holiday(&self, date: NaiveDate) -> bool {
        matches!(
            self.special.get(&date),
            Some(
                DayKind::PublicHoliday { .. }
                    | DayKind::MovedHoliday { .. }
                    | DayKind::DecreedDayOff { .. }
            )
        )
    }

    fn is_bday(&self, date: NaiveDate) -> bool {
        match self.special.get(&date) {
            Some(kind) => kind.is_working(),
            None => bdays::is_weekday(date),
        }
    }
}

/// A country's calendar as the data file defines it.
pub(crate) struct ResolvedCalendar {
    pub years: RangeInclusive<i32>,
    pub table: DayTable,
    pub sources: BTreeMap<i32, YearSource>,
}

/// One holiday being collected; several holidays on one date merge.
struct Holiday {
    names: Vec<String>,
    moves: bool,
}

/// Applies the rules and decrees of `file`, checking every entry.
pub(crate) fn resolve(
    country: Country,
    src: DataSource<'_>,
    file: CalendarFile,
) -> Result<ResolvedCalendar, CalendarError> {
    check_country(country, src, &file.country)?;
    let rule = *file.weekend_rule.get_ref();
    let years = collect_years(src, &file.years)?;
    let first_year = *years
        .first_key_value()
        .expect("collect_years rejects no years")
        .0;
    let last_year = *years
        .last_key_value()
        .expect("collect_years rejects no years")
        .0;
    let first = ymd(first_year, 1, 1);
    let last = ymd(last_year, 12, 31);

    let mut holidays: BTreeMap<NaiveDate, Holiday> = BTreeMap::new();
    add_fixed_holidays(src, &file, rule, first_year..=last_year, &mut holidays)?;
    add_easter_holidays(src, &file, rule, first_year..=last_year, &mut holidays)?;
    for (&year, entry) in &years {
        add_year_holidays(src, rule, year, entry, &mut holidays)?;
    }

    let decreed = collect_days_off(src, &years, &holidays, first..=last)?;
    let moved_away: BTreeSet<NaiveDate> = decreed.values().filter_map(|d| d.moved_from).collect();
    let moved = move_weekend_holidays(src, rule, &holidays, &decreed, &moved_away, last, &file)?;
    let working = collect_working_days(src, &years, &holidays, &decreed)?;

    let mut special = BTreeMap::new();
    for (date, holiday) in &holidays {
        special.insert(
            *date,
            DayKind::PublicHoliday {
                name: holiday.names.join("; "),
            },
        );
    }
    for (date, (holiday, name)) in moved {
        special.insert(date, DayKind::MovedHoliday { holiday, name });
    }
    for (date, day_off) in decreed {
        special.insert(date, DayKind::DecreedDayOff { name: day_off.name });
    }
    for (date, compensates) in working {
        special.insert(date, DayKind::WorkingWeekendDay { compensates });
    }

    let sources = years
        .iter()
        .map(|(&year, entry)| {
            (
                year,
                YearSource {
                    source: entry.source.get_ref().trim().to_owned(),
                    provisional: entry.provisional,
                    note: entry.note.clone(),
                },
            )
        })
        .collect();
    Ok(ResolvedCalendar {
        years: first_year..=last_year,
        table: DayTable { special },
        sources,
    })
}

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid calendar date")
}

fn check_country(
    expected: Country,
    src: DataSource<'_>,
    value: &Spanned<String>,
) -> Result<(), CalendarError> {
    let found: Country = value
        .get_ref()
        .parse()
        .map_err(|e: CalendarError| src.invalid(value.span(), "country", e.to_string()))?;
    if found != expected {
        return Err(src.invalid(
            value.span(),
            "country",
            format!("this is the {found} calendar, but it was loaded as the {expected} calendar"),
        ));
    }
    Ok(())
}

/// Parses the `[years.N]` keys: known years, no gaps, each with a source.
fn collect_years<'f>(
    src: DataSource<'_>,
    years: &'f BTreeMap<Spanned<String>, YearEntry>,
) -> Result<BTreeMap<i32, &'f YearEntry>, CalendarError> {
    let mut by_year = BTreeMap::new();
    for (key, entry) in years {
        let year: i32 = key
            .get_ref()
            .parse()
            .ok()
            .filter(|y| SUPPORTED_YEARS.contains(y))
            .ok_or_else(|| {
                src.invalid(
                    key.span(),
                    "years",
                    format!(
                        "{:?} is not a year from {} to {}",
                        key.get_ref(),
                        SUPPORTED_YEARS.start(),
                        SUPPORTED_YEARS.end()
                    ),
                )
            })?;
        if entry.source.get_ref().trim().is_empty() {
            return Err(src.invalid(
                entry.source.span(),
                "source",
                "write the decree (number, title, date) or law this year was checked against",
            ));
        }
        if by_year.insert(year, entry).is_some() {
            return Err(src.invalid(key.span(), "years", format!("{year} is listed twice")));
        }
    }
    let (Some(&first), Some(&last)) = (by_year.keys().next(), by_year.keys().next_back()) else {
        return Err(src.invalid_file(
            "years",
            "no years: add at least one [years.YYYY] table with its source",
        ));
    };
    if let Some(missing) = (first..=last).find(|y| !by_year.contains_key(y)) {
        return Err(src.invalid_file(
            "years",
            format!("{missing} is missing: the years {first}-{last} must all be present"),
        ));
    }
    Ok(by_year)
}

/// Reads a holiday's `moves`: required when the country moves weekend holidays (so nobody
/// forgets to decide), forbidden when it never does.
fn moves_flag(
    src: DataSource<'_>,
    rule: WeekendRule,
    moves: Option<&Spanned<bool>>,
    name: &Spanned<String>,
) -> Result<bool, CalendarError> {
    match (rule, moves) {
        (WeekendRule::NextWorkingDay, Some(m)) => Ok(*m.get_ref()),
        (WeekendRule::NextWorkingDay, None) => Err(src.invalid(
            name.span(),
            "moves",
            format!(
                "say whether {:?} moves to the next working day when it falls on a weekend \
                 (moves = true or moves = false)",
                name.get_ref()
            ),
        )),
        (WeekendRule::Stay, Some(m)) if *m.get_ref() => Err(src.invalid(
            m.span(),
            "moves",
            "this country's weekend_rule is \"stay\": no holiday moves",
        )),
        (WeekendRule::Stay, _) => Ok(false),
    }
}

/// The years a rule applies to, within `covered`.
fn rule_years(
    src: DataSource<'_>,
    from_year: Option<&Spanned<i32>>,
    until_year: Option<&Spanned<i32>>,
    covered: &RangeInclusive<i32>,
) -> Result<RangeInclusive<i32>, CalendarError> {
    let from = from_year.map_or(*covered.start(), |y| (*y.get_ref()).max(*covered.start()));
    let until = until_year.map_or(*covered.end(), |y| (*y.get_ref()).min(*covered.end()));
    if let (Some(f), Some(u)) = (from_year, until_year)
        && f.get_ref() > u.get_ref()
    {
        return Err(src.invalid(
            f.span(),
            "from_year",
            format!(
                "from_year {} is after until_year {}",
                f.get_ref(),
                u.get_ref()
            ),
        ));
    }
    Ok(from..=until)
}

fn add_holiday(
    holidays: &mut BTreeMap<NaiveDate, Holiday>,
    date: NaiveDate,
    name: &str,
    moves: bool,
) {
    let entry = holidays.entry(date).or_insert_with(|| Holiday {
        names: Vec::new(),
        moves: false,
    });
    entry.names.push(name.to_owned());
    entry.moves |= moves;
}

fn add_fixed_holidays(
    src: DataSource<'_>,
    file: &CalendarFile,
    rule: WeekendRule,
    covered: RangeInclusive<i32>,
    holidays: &mut BTreeMap<NaiveDate, Holiday>,
) -> Result<(), CalendarError> {
    for h in &file.fixed_holidays {
        let moves = moves_flag(src, rule, h.moves.as_ref(), &h.name)?;
        let years = rule_years(src, h.from_year.as_ref(), h.until_year.as_ref(), &covered)?;
        let (month, day) = (*h.month.get_ref(), *h.day.get_ref());
        if !(1..=12).contains(&month) {
            return Err(src.invalid(h.month.span(), "month", format!("{month} is not a month")));
        }
        // Validate the day against a leap year first so that the message is about the day.
        if NaiveDate::from_ymd_opt(2024, month, day).is_none() {
            return Err(src.invalid(
                h.day.span(),
                "day",
                format!("month {month} has no day {day}"),
            ));
        }
        for year in years {
            let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
                src.invalid(
                    h.day.span(),
                    "day",
                    format!("{year}-{month:02}-{day:02} does not exist"),
                )
            })?;
            add_holiday(holidays, date, h.name.get_ref(), moves);
        }
    }
    Ok(())
}

fn add_easter_holidays(
    src: DataSource<'_>,
    file: &CalendarFile,
    rule: WeekendRule,
    covered: RangeInclusive<i32>,
    holidays: &mut BTreeMap<NaiveDate, Holiday>,
) -> Result<(), CalendarError> {
    for h in &file.easter_holidays {
        let moves = moves_flag(src, rule, h.moves.as_ref(), &h.name)?;
        let years = rule_years(src, h.from_year.as_ref(), h.until_year.as_ref(), &covered)?;
        let offset = *h.offset.get_ref();
        if !(-100..=100).contains(&offset) {
            return Err(src.invalid(
                h.offset.span(),
                "offset",
                format!(
                    "{offset} days from Easter is not a holiday of that Easter (use -100..=100)"
                ),
            ));
        }
        for year in years {
            let easter = easter_sunday(*h.easter.get_ref(), year).ok_or_else(|| {
                src.invalid(
                    h.easter.span(),
                    "easter",
                    format!("no Easter date for {year}"),
                )
            })?;
            let date = if offset >= 0 {
                easter.checked_add_days(Days::new(offset.unsigned_abs()))
            } else {
                easter.checked_sub_days(Days::new(offset.unsigned_abs()))
            }
            .filter(|d| d.year() == year)
            .ok_or_else(|| {
                src.invalid(h.offset.span(), "offset", format!("falls outside {year}"))
            })?;
            add_holiday(holidays, date, h.name.get_ref(), moves);
        }
    }
    Ok(())
}

fn add_year_holidays(
    src: DataSource<'_>,
    rule: WeekendRule,
    year: i32,
    entry: &YearEntry,
    holidays: &mut BTreeMap<NaiveDate, Holiday>,
) -> Result<(), CalendarError> {
    for h in &entry.holidays {
        let date = src.date(&h.date, "date")?;
        check_in_year(src, &h.date, date, year)?;
        let moves = moves_flag(src, rule, h.moves.as_ref(), &h.name)?;
        if let Some(existing) = holidays.get(&date) {
            return Err(src.invalid(
                h.date.span(),
                "date",
                format!(
                    "{date} is already a holiday by the rules ({})",
                    existing.names.join("; ")
                ),
            ));
        }
        add_holiday(holidays, date, h.name.get_ref(), moves);
    }
    Ok(())
}

fn check_in_year(
    src: DataSource<'_>,
    value: &Spanned<toml::value::Datetime>,
    date: NaiveDate,
    year: i32,
) -> Result<(), CalendarError> {
    if date.year() != year {
        return Err(src.invalid(
            value.span(),
            "date",
            format!(
                "{date} is listed under [years.{year}]; move it to [years.{}]",
                date.year()
            ),
        ));
    }
    Ok(())
}

struct DecreedDayOff {
    name: String,
    moved_from: Option<NaiveDate>,
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn collect_days_off(
    src: DataSource<'_>,
    years: &BTreeMap<i32, &YearEntry>,
    holidays: &BTreeMap<NaiveDate, Holiday>,
    covered: RangeInclusive<NaiveDate>,
) -> Result<BTreeMap<NaiveDate, DecreedDayOff>, CalendarError> {
    let mut days_off = BTreeMap::new();
    let mut moved_from_seen = BTreeSet::new();
    for (&year, entry) in years {
        for d in &entry.days_off {
            let date = src.date(&d.date, "date")?;
            check_in_year(src, &d.date, date, year)?;
            let span: Range<usize> = d.date.span();
            if is_weekend(date) {
                return Err(src.invalid(
                    span,
                    "days_off",
                    format!(
                        "{date} is a {:?}: a day off must be a weekday",
                        date.weekday()
                    ),
                ));
            }
            if let Some(h) = holidays.get(&date) {
                return Err(src.invalid(
                    span,
                    "days_off",
                    format!("{date} is already a holiday ({})", h.names.join("; ")),
                ));
            }
            let moved_from = match &d.moved_from {
                None => None,
                Some(value) => {
                    let from = src.date(value, "moved_from")?;
                    let is_weekend_holiday =
                        covered.contains(&from) && is_weekend(from) && holidays.contains_key(&from);
                    if !is_weekend_holiday {
                        return Err(src.invalid(
                            value.span(),
                            "moved_from",
                            format!("{from} is not a public holiday on a weekend in this file"),
                        ));
                    }
                    if !moved_from_seen.insert(from) {
                        return Err(src.invalid(
                            value.span(),
                            "moved_from",
                            format!("the day off of {from} is already moved by another entry"),
                        ));
                    }
                    Some(from)
                }
            };
            let day_off = DecreedDayOff {
                name: d.name.get_ref().clone(),
                moved_from,
            };
            if days_off.insert(date, day_off).is_some() {
                return Err(src.invalid(span, "days_off", format!("{date} is listed twice")));
            }
        }
    }
    Ok(days_off)
}

/// The weekend rule: each holiday marked `moves` that falls on a Saturday or Sunday gives
/// the next working day after it as a day off, unless a decree moved that day off elsewhere.
/// Holidays are taken in date order, so consecutive weekend holidays (KZ Nauryz 21-22 March
/// 2026) give consecutive days off after the holidays (24 and 25 March).
fn move_weekend_holidays(
    src: DataSource<'_>,
    rule: WeekendRule,
    holidays: &BTreeMap<NaiveDate, Holiday>,
    decreed: &BTreeMap<NaiveDate, DecreedDayOff>,
    moved_away: &BTreeSet<NaiveDate>,
    last: NaiveDate,
    file: &CalendarFile,
) -> Result<BTreeMap<NaiveDate, (NaiveDate, String)>, CalendarError> {
    let mut moved = BTreeMap::new();
    if rule == WeekendRule::Stay {
        return Ok(moved);
    }
    for (&date, holiday) in holidays {
        if !(holiday.moves && is_weekend(date) && !moved_away.contains(&date)) {
            continue;
        }
        let mut target = date;
        loop {
            target = target.succ_opt().filter(|d| *d <= last).ok_or_else(|| {
                let year_span = file.years.keys().next_back().map(Spanned::span);
                let problem = format!(
                    "{} on {date} falls on a weekend and its day off would fall after {last}, \
                     the last day of the data: add the next year",
                    holiday.names.join("; ")
                );
                match year_span {
                    Some(span) => src.invalid(span, "years", problem.clone()),
                    None => src.invalid_file("years", problem.clone()),
                }
            })?;
            let free = !is_weekend(target)
                && !holidays.contains_key(&target)
                && !decreed.contains_key(&target)
                && !moved.contains_key(&target);
            if free {
                break;
            }
        }
        moved.insert(target, (date, holiday.names.join("; ")));
    }
    Ok(moved)
}

fn collect_working_days(
    src: DataSource<'_>,
    years: &BTreeMap<i32, &YearEntry>,
    holidays: &BTreeMap<NaiveDate, Holiday>,
    decreed: &BTreeMap<NaiveDate, DecreedDayOff>,
) -> Result<BTreeMap<NaiveDate, NaiveDate>, CalendarError> {
    let mut working = BTreeMap::new();
    for (&year, entry) in years {
        for w in &entry.working_saturdays {
            let date = src.date(&w.date, "date")?;
            check_in_year(src, &w.date, date, year)?;
            if !is_weekend(date) {
                return Err(src.invalid(
                    w.date.span(),
                    "working_saturdays",
                    format!(
                        "{date} is a {:?}: a working Saturday must be a Saturday (or, rarely, \
                         a Sunday)",
                        date.weekday()
                    ),
                ));
            }
            if let Some(h) = holidays.get(&date) {
                return Err(src.invalid(
                    w.date.span(),
                    "working_saturdays",
                    format!("{date} is a public holiday ({})", h.names.join("; ")),
                ));
            }
            let compensates = src.date(&w.compensates, "compensates")?;
            if !decreed.contains_key(&compensates) {
                return Err(src.invalid(
                    w.compensates.span(),
                    "compensates",
                    format!("{compensates} is not among the days_off of this file"),
                ));
            }
            if working.insert(date, compensates).is_some() {
                return Err(src.invalid(
                    w.date.span(),
                    "working_saturdays",
                    format!("{date} is listed twice"),
                ));
            }
        }
    }
    Ok(working)
}
