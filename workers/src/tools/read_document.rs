//! `refundd read-document FILE`: reads the machine-readable zone of a passport or ID card
//! from a photo or scan (JPEG, PNG, PDF) and prints one JSON object:
//! `{"found", "format", "mrz", "fields", "valid", "problems", "seconds"}` (see
//! [`shared::identity::scan`]). Exit 0 whenever the file could be read, whether or not an
//! MRZ was found; 2 with a one-line message on stderr for a file that cannot be read or is
//! not a supported type.

use std::path::Path;
use std::process::ExitCode;

use shared::identity::scan::{ScanReport, assess};

/// Runs the tool; see the module documentation for the contract.
pub fn run(file: &Path) -> ExitCode {
    let fail = |message: String| {
        eprintln!("refundd read-document: {}", message.replace('\n', " "));
        ExitCode::from(2)
    };
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) => return fail(format!("cannot read {}: {e}", file.display())),
    };
    let outcome = match docscan::read_file(&bytes, &docscan::Limits::default()) {
        Ok(outcome) => outcome,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let today = chrono::Utc::now().date_naive();
    let report = match &outcome.reading {
        Some(reading) => assess(reading, outcome.seconds, today),
        None => ScanReport::not_found(outcome.seconds),
    };
    match serde_json::to_string_pretty(&report) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot write the report: {e}")),
    }
}
