//! `refundd policies list | check FILE`: the shipped packs, and validation of a merchant's
//! pack file before it is deployed.

use std::path::PathBuf;
use std::process::ExitCode;

use shared::policy::{PolicyPack, PolicyPacks};

#[derive(clap::Subcommand)]
pub enum PoliciesCmd {
    /// One line per shipped pack: id, version, country, currency, name (tab-separated).
    List {
        /// One JSON object per line instead.
        #[arg(long)]
        json: bool,
    },
    /// Validate a pack file: prints `OK <id> <version>`, or `file:line: field: problem` and
    /// exits 2.
    Check { file: PathBuf },
}

pub fn run(cmd: PoliciesCmd) -> ExitCode {
    match cmd {
        PoliciesCmd::List { json } => {
            for pack in PolicyPacks::builtin().iter() {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "id": pack.id().as_str(),
                            "version": pack.version(),
                            "country": pack.country().to_string(),
                            "currency": pack.currency().code(),
                            "timezone": pack.timezone().name(),
                            "name": pack.name(),
                        })
                    );
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        pack.id(),
                        pack.version(),
                        pack.country(),
                        pack.currency(),
                        pack.name()
                    );
                }
            }
            ExitCode::SUCCESS
        }
        PoliciesCmd::Check { file } => match PolicyPack::from_file(&file) {
            Ok(pack) => {
                println!("OK {} {}", pack.id(), pack.version());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}
