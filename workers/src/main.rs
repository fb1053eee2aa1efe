//! `refundd`: one binary, every role.

mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "refundd",
    version,
    about = "Refund processing: every role in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check an identity document described as JSON (FILE or stdin) and print the verdict.
    CheckDocument {
        /// JSON file to read; standard input when absent.
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::CheckDocument { file } => tools::check_document::run(file),
    }
}
