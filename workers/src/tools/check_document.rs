//! `refundd check-document [FILE]`: reads what was taken from an identity document as JSON
//! (FILE or stdin), runs every identity check and prints the verdict as JSON. Exit 0 for
//! any verdict; 2 with a one-line message on stderr when the input itself is malformed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::NaiveDate;
use serde::Deserialize;
use shared::identity::{DocumentInput, Expectation, check};
use thiserror::Error;

/// The JSON the tool accepts; every field is optional, unknown fields are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    mrz: Option<String>,
    country: Option<String>,
    personal_number: Option<String>,
    document_number: Option<String>,
    birth_date: Option<String>,
    expires_on: Option<String>,
    holder_name: Option<String>,
    /// Path of the scan or photo to inspect (type, size, pages, resolution).
    scan: Option<PathBuf>,
    expect: Option<ExpectRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectRequest {
    name: Option<String>,
    on: Option<String>,
}

/// Why the input could not be checked at all (as opposed to a document with problems).
#[derive(Debug, Error)]
enum InputError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the input is not valid JSON for check-document: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{field} {value:?} is not a date; write it as YYYY-MM-DD, like 2026-11-21")]
    Date { field: &'static str, value: String },
    #[error("country {0:?} is not an ISO 3166 country code; write it like KZ or KAZ")]
    Country(String),
}

/// Runs the tool; see the module documentation for the contract.
pub fn run(file: Option<PathBuf>) -> ExitCode {
    match read_input(file.as_deref()).and_then(|text| verdict(&text)) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One line, whatever the cause says.
            let message = error.to_string().replace('\n', " ");
            eprintln!("refundd check-document: {message}");
            ExitCode::from(2)
        }
    }
}

fn read_input(file: Option<&Path>) -> Result<String, InputError> {
    match file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| InputError::Read {
            path: path.display().to_string(),
            source,
        }),
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| InputError::Read {
                    path: "standard input".to_owned(),
                    source,
                })?;
            Ok(text)
        }
    }
}

/// Parses the request, runs the checks and renders the report as pretty JSON.
fn verdict(text: &str) -> Result<String, InputError> {
    let request: Request = serde_json::from_str(text)?;
    let (input, expect) = into_check(request)?;
    let report = check(&input, &expect);
    Ok(serde_json::to_string_pretty(&report)?)
}

fn into_check(request: Request) -> Result<(DocumentInput, Expectation), InputError> {
    if let Some(country) = &request.country {
        let letters = country.trim();
        if !(2..=3).contains(&letters.len()) || !letters.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(InputError::Country(country.clone()));
        }
    }
    let file = match &request.scan {
        Some(path) => Some(std::fs::read(path).map_err(|source| InputError::Read {
            path: path.display().to_string(),
            source,
        })?),
        None => None,
    };
    let expect = request.expect.unwrap_or_default();
    let input = DocumentInput {
        mrz: request.mrz,
        country: request.country,
        personal_number: request.personal_number,
        document_number: request.document_number,
        birth_date: date("birth_date", request.birth_date)?,
        expires_on: date("expires_on", request.expires_on)?,
        holder_name: request.holder_name,
        file,
    };
    let expect = Expectation {
        name: expect.name,
        on: date("expect.on", expect.on)?,
    };
    Ok((input, expect))
}

fn date(field: &'static str, value: Option<String>) -> Result<Option<NaiveDate>, InputError> {
    value
        .map(|text| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| InputError::Date { field, value: text })
        })
        .transpose()
}
