//! `refundd quote [FILE]`: decide one refund request under a shipped pack, for support staff
//! and acceptance checks.
//!
//! Input: the JSON of [`shared::policy::QuoteInput`] (`policy`, `payment {amount, currency,
//! paid_at, refunded?}`, `received_at`, `complete_at?`, `reason`, `facts`, `documents?`).
//! Output: one JSON object, the [`shared::policy::Decision`]; exit 0 for every decision.
//! A malformed request exits 2 with one line on stderr naming the problem.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use shared::calendar::WorkingDayCalendar;
use shared::policy::{PolicyPacks, QuoteInput, decide};

/// Exit status for a request the engine cannot read.
const MALFORMED: u8 = 2;

pub fn run(file: Option<PathBuf>) -> ExitCode {
    match quote(file) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("refundd quote: {}", message.replace('\n', " "));
            ExitCode::from(MALFORMED)
        }
    }
}

fn quote(file: Option<PathBuf>) -> Result<String, String> {
    let text = match &file {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| format!("cannot read stdin: {e}"))?;
            text
        }
    };
    let mut json = serde_json::Deserializer::from_str(&text);
    let input: QuoteInput =
        serde_path_to_error::deserialize(&mut json).map_err(|e| format!("invalid request: {e}"))?;
    json.end().map_err(|e| format!("invalid request: {e}"))?;
    let packs = PolicyPacks::builtin();
    let pack = packs.get(&input.policy).ok_or_else(|| {
        format!(
            "unknown policy `{}` (known: {})",
            input.policy,
            packs.ids().join(", ")
        )
    })?;
    let decision = decide(pack, WorkingDayCalendar::builtin(pack.country()), &input)
        .map_err(|e| e.to_string())?;
    serde_json::to_string(&decision).map_err(|e| format!("cannot print the decision: {e}"))
}
