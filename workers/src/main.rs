//! `refundd`: one binary, every role.

mod tools {
    pub mod calendar;
}

use std::process::ExitCode;

use clap::{Parser, Subcommand, error::ErrorKind};

#[derive(Debug, Parser)]
#[command(
    name = "refundd",
    version,
    about = "Refund-processing system: every role in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Working-day calendars: list working days, compute the end of a term.
    Calendar {
        #[command(subcommand)]
        cmd: tools::calendar::CalendarCmd,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    match cli.command {
        Command::Calendar { cmd } => tools::calendar::run(cmd),
    }
}

/// Help and version print as clap prints them; any other usage error is one line on stderr
/// (the lines of clap's message before its usage section, joined) and exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:"))
        .filter(|line| !line.is_empty())
        .collect();
    eprintln!(
        "refundd: {}",
        message.join(" ").trim_start_matches("error: ")
    );
    ExitCode::from(2)
}
