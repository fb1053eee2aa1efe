//! `refundd`: one binary, every role.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod tools {
    pub mod policies;
    pub mod quote;
}

#[derive(Parser)]
#[command(name = "refundd", version, about = "Refund processing: every role in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decide a refund request (JSON from FILE or stdin) and print the decision as JSON.
    Quote {
        /// The request; read from stdin when absent.
        file: Option<PathBuf>,
    },
    /// List the shipped policy packs or check a merchant's pack file.
    Policies {
        #[command(subcommand)]
        cmd: tools::policies::PoliciesCmd,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Quote { file } => tools::quote::run(file),
        Command::Policies { cmd } => tools::policies::run(cmd),
    }
}
