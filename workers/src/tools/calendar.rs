//! `refundd calendar ...`: the working-day calendars from the command line, for acceptance
//! checks and for operations staff checking an edited calendar file.
//!
//! - `refundd calendar working-days --country KZ --from 2026-01-01 --to 2026-12-31` prints every
//!   working day in the range (inclusive), one ISO date per line.
//! - `refundd calendar add --country BY --date 2026-03-20 --working-days 30` and
//!   `refundd calendar add --country BY --date 2026-03-20 --calendar-days 14 [--extend]` print
//!   the date the term ends.
//!
//! `--data-dir DIR` reads the calendar files from DIR instead of the shipped ones. Bad input
//! (unknown country, bad date or number, a date outside the data's years, an invalid data
//! file) prints one line on stderr and exits with code 2.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};
use shared::calendar::{Calendars, Country, WorkingDayCalendar};

/// Working-day calendars (BY, KZ, LV, RU): list working days, compute the end of a term.
#[derive(Debug, Subcommand)]
pub enum CalendarCmd {
    /// Print every working day from --from to --to (both included), one ISO date per line.
    WorkingDays {
        #[command(flatten)]
        calendar: CalendarArgs,
        /// First date (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last date (YYYY-MM-DD).
        #[arg(long)]
        to: String,
    },
    /// Print the date a term ends: N working days from --date (the date itself never counts)
    /// or N calendar days from --date (moved to the next working day with --extend).
    #[command(group(ArgGroup::new("term").required(true).args(["working_days", "calendar_days"])))]
    Add {
        #[command(flatten)]
        calendar: CalendarArgs,
        /// Start date of the term (YYYY-MM-DD).
        #[arg(long)]
        date: String,
        /// Length of the term in working days.
        #[arg(long)]
        working_days: Option<String>,
        /// Length of the term in calendar days.
        #[arg(long)]
        calendar_days: Option<String>,
        /// Move a calendar-day term that ends on a non-working day to the next working day.
        #[arg(long, requires = "calendar_days", conflicts_with = "working_days")]
        extend: bool,
    },
}

/// Which calendar to use.
#[derive(Debug, Args)]
pub struct CalendarArgs {
    /// Country code: BY, KZ, LV or RU (any case).
    #[arg(long)]
    country: String,
    /// Read by.toml, kz.toml, lv.toml, ru.toml from this directory instead of the shipped
    /// calendars (a file missing there means the shipped one).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// Runs a calendar command: 0 on success, 2 on bad input (one line on stderr).
pub fn run(cmd: CalendarCmd) -> ExitCode {
    match execute(cmd) {
        Ok(lines) => print_lines(&lines),
        Err(message) => {
            eprintln!("refundd calendar: {}", message.replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

/// The lines to print, or the message for bad input.
fn execute(cmd: CalendarCmd) -> Result<Vec<String>, String> {
    match cmd {
        CalendarCmd::WorkingDays { calendar, from, to } => {
            let (calendars, country) = open(&calendar)?;
            let from = parse_date("--from", &from)?;
            let to = parse_date("--to", &to)?;
            let days = calendars
                .get(country)
                .working_days_in(from, to)
                .map_err(|e| e.to_string())?;
            Ok(days.iter().map(NaiveDate::to_string).collect())
        }
        CalendarCmd::Add {
            calendar,
            date,
            working_days,
            calendar_days,
            extend,
        } => {
            let (calendars, country) = open(&calendar)?;
            let date = parse_date("--date", &date)?;
            let cal: &WorkingDayCalendar = calendars.get(country);
            let end = match (working_days, calendar_days) {
                (Some(n), None) => cal.add_working_days(date, parse_days("--working-days", &n)?),
                (None, Some(n)) => {
                    cal.add_calendar_days(date, parse_days("--calendar-days", &n)?, extend)
                }
                // clap's "term" group admits exactly one of the two.
                _ => return Err("give either --working-days or --calendar-days".to_owned()),
            }
            .map_err(|e| e.to_string())?;
            Ok(vec![end.to_string()])
        }
    }
}

fn open(args: &CalendarArgs) -> Result<(Calendars, Country), String> {
    let country: Country = args
        .country
        .parse()
        .map_err(|e| format!("--country: {e}"))?;
    let calendars = match &args.data_dir {
        None => Calendars::builtin(),
        Some(dir) => Calendars::load_dir(dir).map_err(|e| e.to_string())?,
    };
    Ok((calendars, country))
}

fn parse_date(flag: &str, value: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .map_err(|e| format!("{flag}: {value:?} is not a date in the form YYYY-MM-DD ({e})"))
}

fn parse_days(flag: &str, value: &str) -> Result<u32, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: {value:?} is not a whole number of days (0 or more)"))
}

fn print_lines(lines: &[String]) -> ExitCode {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let written = lines
        .iter()
        .try_for_each(|line| writeln!(out, "{line}"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => ExitCode::SUCCESS,
        // `refundd calendar working-days ... | head` closes the pipe early: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("refundd calendar: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: CalendarCmd,
    }

    fn lines(args: &[&str]) -> Result<Vec<String>, String> {
        let cli = Cli::try_parse_from(std::iter::once("calendar").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        execute(cli.cmd)
    }

    #[test]
    fn add_prints_the_term_end() {
        let out = lines(&[
            "add",
            "--country",
            "by",
            "--date",
            "2026-03-20",
            "--working-days",
            "30",
        ]);
        assert_eq!(out.unwrap(), ["2026-05-05"]);
        let out = lines(&[
            "add",
            "--country",
            "BY",
            "--date",
            "2026-04-06",
            "--calendar-days",
            "14",
            "--extend",
        ]);
        assert_eq!(out.unwrap(), ["2026-04-22"]);
    }

    #[test]
    fn working_days_prints_the_inclusive_range() {
        let out = lines(&[
            "working-days",
            "--country",
            "LV",
            "--from",
            "2026-01-16",
            "--to",
            "2026-01-19",
        ]);
        assert_eq!(out.unwrap(), ["2026-01-16", "2026-01-17", "2026-01-19"]);
    }

    #[test]
    fn bad_input_is_a_message_naming_the_flag() {
        let err = lines(&[
            "add",
            "--country",
            "XX",
            "--date",
            "2026-03-20",
            "--working-days",
            "3",
        ]);
        assert!(err.unwrap_err().contains("--country"));
        let err = lines(&[
            "add",
            "--country",
            "BY",
            "--date",
            "20.03.2026",
            "--working-days",
            "3",
        ]);
        assert!(err.unwrap_err().contains("--date"));
        let err = lines(&[
            "add",
            "--country",
            "BY",
            "--date",
            "2026-03-20",
            "--working-days",
            "-3",
        ]);
        assert!(err.unwrap_err().contains("--working-days"));
        let err = lines(&[
            "add",
            "--country",
            "BY",
            "--date",
            "2030-03-20",
            "--working-days",
            "3",
        ]);
        assert!(err.unwrap_err().contains("2024-2027"));
    }

    #[test]
    fn a_term_needs_exactly_one_length_and_extend_only_with_calendar_days() {
        assert!(lines(&["add", "--country", "BY", "--date", "2026-03-20"]).is_err());
        assert!(
            lines(&[
                "add",
                "--country",
                "BY",
                "--date",
                "2026-03-20",
                "--working-days",
                "3",
                "--calendar-days",
                "3",
            ])
            .is_err()
        );
        assert!(
            lines(&[
                "add",
                "--country",
                "BY",
                "--date",
                "2026-03-20",
                "--working-days",
                "3",
                "--extend",
            ])
            .is_err()
        );
    }
}
