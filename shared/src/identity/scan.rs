//! What the machine-readable zone read from a scan says, and whether it can be trusted.
//!
//! The reader ([`docscan`]) gives the lines as it saw them. A reading is **valid** only when
//! all of these hold: every check digit agrees (with the document's other checks: dates,
//! national number against birth date and sex), the name field has ICAO's exact structure
//! (names carry no check digit), and every character matched the font well. Nothing here
//! changes a character to make a check pass; a reading that is not valid is shown to a
//! person as a suggestion, with what was read and why it was not taken.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use docscan::{Format, Reading};
use serde::Serialize;

use super::check::{DocumentInput, Expectation, check};
use super::masking::mask_document_number;
use super::mrz::Sex;
use super::problem::{Problem, ProblemCode};

/// A character read with a lower template score than this makes the whole reading unclear.
/// Characters of the generated set score 0.94 or more; a smudge or a character of another
/// font scores well under 0.7.
pub const MIN_CELL_SCORE: f32 = 0.7;

/// The verdict on one file, in the shape `refundd read-document` prints.
#[derive(Clone, Serialize)]
pub struct ScanReport {
    /// Whether an MRZ was found.
    pub found: bool,
    /// `"TD1"`, `"TD2"` or `"TD3"` when found.
    pub format: Option<&'static str>,
    /// The MRZ lines as read (empty when not found).
    pub mrz: Vec<String>,
    /// The fields, as read (even when the reading is not valid: a person checks them).
    pub fields: ScanFields,
    /// Whether the reading can be taken without a person (see the module docs).
    pub valid: bool,
    /// Why not, each with a code, a field and a sentence.
    pub problems: Vec<Problem>,
    /// Seconds spent reading, decoding included.
    pub seconds: f64,
}

impl fmt::Debug for ScanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanReport")
            .field("found", &self.found)
            .field("format", &self.format)
            .field("fields", &self.fields)
            .field("valid", &self.valid)
            .field("problems", &self.problems)
            .field("seconds", &self.seconds)
            .finish_non_exhaustive()
    }
}

/// The fields of the MRZ. Debug masks the document and personal numbers.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScanFields {
    /// `P`, `I`, `ID`, `AC`...
    pub document_type: Option<String>,
    /// ICAO code of the issuing state (`KAZ`).
    pub issuing_country: Option<String>,
    /// The document number. Do not log it.
    pub document_number: Option<String>,
    /// Surname (primary identifier), words separated by spaces.
    pub surname: Option<String>,
    /// Given names (secondary identifier).
    pub given_names: Option<String>,
    /// ICAO code of the nationality.
    pub nationality: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// `M`, `F` or `X`.
    pub sex: Option<String>,
    /// `YYYY-MM-DD`.
    pub expiry_date: Option<String>,
    /// The national number in the optional data (or the optional data as read). Do not
    /// log it.
    pub personal_number: Option<String>,
}

impl fmt::Debug for ScanFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |v: &Option<String>| v.as_deref().map(mask_document_number);
        f.debug_struct("ScanFields")
            .field("document_type", &self.document_type)
            .field("issuing_country", &self.issuing_country)
            .field("document_number", &masked(&self.document_number))
            .field("surname", &self.surname)
            .field("given_names", &self.given_names)
            .field("nationality", &self.nationality)
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .field("expiry_date", &self.expiry_date)
            .field("personal_number", &masked(&self.personal_number))
            .finish()
    }
}

impl ScanReport {
    /// The MRZ as one text (lines joined by newlines), for the identity checks.
    pub fn mrz_text(&self) -> Option<String> {
        self.found.then(|| self.mrz.join("\n"))
    }

    /// The report for a file the reader could not find an MRZ in.
    pub fn not_found(seconds: f64) -> Self {
        Self {
            found: false,
            format: None,
            mrz: Vec::new(),
            fields: ScanFields::default(),
            valid: false,
            problems: vec![Problem::new(
                ProblemCode::MrzNotFound,
                "file",
                "No machine-readable zone (the two or three lines with <<< at the bottom of the \
                 page) was found in the picture. Send a sharp photo or scan of the whole page \
                 with the photo, straight on, without glare.",
            )],
            seconds,
        }
    }
}

/// Judges a reading: its fields, and whether it is valid. `today` only sets the century of
/// two-digit birth years in a reading whose check digits failed (a birth year is never in
/// the future); a valid reading's dates come from the MRZ parser.
pub fn assess(reading: &Reading, seconds: f64, today: NaiveDate) -> ScanReport {
    let mut problems = Vec::new();
    let text = reading.lines.join("\n");
    let report = check(
        &DocumentInput {
            mrz: Some(text),
            ..DocumentInput::default()
        },
        &Expectation::default(),
    );
    problems.extend(report.problems.iter().cloned());

    let (line, start, end) = reading.format.name_field();
    let names = reading
        .lines
        .get(line)
        .and_then(|l| l.get(start..end))
        .unwrap_or("");
    if !docscan::name_structure_is_exact(names) {
        problems.push(Problem::new(
            ProblemCode::MrzUnclear,
            "names",
            "The names in the machine-readable zone were not read with certainty (their \
             <-separated structure is broken). A person should compare them with the document.",
        ));
    }
    let doubtful = reading.doubtful(MIN_CELL_SCORE);
    if !doubtful.is_empty() {
        let places: Vec<String> = doubtful
            .iter()
            .take(5)
            .map(|(l, i)| format!("line {} position {}", l + 1, i + 1))
            .collect();
        problems.push(Problem::new(
            ProblemCode::MrzUnclear,
            "mrz",
            format!(
                "{} character(s) of the machine-readable zone were not read with certainty ({}). \
                 A person should compare them with the document.",
                doubtful.len(),
                places.join(", ")
            ),
        ));
    }

    let fields = match &report.mrz {
        Some(mrz) => ScanFields {
            document_type: Some(mrz.document_code.clone()),
            issuing_country: Some(mrz.issuing_state.clone()),
            document_number: Some(mrz.document_number.as_str().to_owned()),
            surname: Some(mrz.surname.clone()),
            given_names: Some(mrz.given_names.clone()),
            nationality: Some(mrz.nationality.clone()),
            birth_date: Some(mrz.birth_date.to_string()),
            sex: Some(sex_letter(mrz.sex).to_owned()),
            expiry_date: Some(mrz.expiry_date.to_string()),
            personal_number: report
                .national_number
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .or_else(|| (!mrz.optional_data.is_empty()).then(|| mrz.optional_data.clone())),
        },
        None => as_read(reading, today),
    };
    ScanReport {
        found: true,
        format: Some(reading.format.as_str()),
        mrz: reading.lines.clone(),
        fields,
        valid: problems.is_empty(),
        problems,
        seconds,
    }
}

fn sex_letter(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "F",
        Sex::Male => "M",
        Sex::Unspecified => "X",
    }
}

/// Fields cut from their fixed positions, for a reading the parser refused.
fn as_read(reading: &Reading, today: NaiveDate) -> ScanFields {
    let l = &reading.lines;
    let cut = |line: usize, a: usize, b: usize| -> Option<String> {
        let v = l
            .get(line)?
            .get(a..b)?
            .trim_end_matches('<')
            .replace('<', " ");
        let v = v.trim().to_owned();
        (!v.is_empty()).then_some(v)
    };
    let yymmdd = |line: usize, a: usize, birth: bool| -> Option<String> {
        let s = l.get(line)?.get(a..a + 6)?;
        let n: Vec<u32> = s.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
        let yy = (n[0] * 10 + n[1]) as i32;
        let this_century = today.year() / 100 * 100;
        let year = if birth && this_century + yy > today.year() {
            this_century - 100 + yy
        } else {
            this_century + yy
        };
        NaiveDate::from_ymd_opt(year, n[2] * 10 + n[3], n[4] * 10 + n[5]).map(|d| d.to_string())
    };
    let names = |line: usize, a: usize, b: usize| -> (Option<String>, Option<String>) {
        let Some(field) = l.get(line).and_then(|t| t.get(a..b)) else {
            return (None, None);
        };
        let mut parts = field.trim_end_matches('<').splitn(2, "<<");
        let clean = |s: Option<&str>| {
            s.map(|v| v.replace('<', " ").trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        (clean(parts.next()), clean(parts.next()))
    };
    let sex = |line: usize, at: usize| -> Option<String> {
        match l.get(line)?.as_bytes().get(at)? {
            b'M' => Some("M".into()),
            b'F' => Some("F".into()),
            b'X' | b'<' => Some("X".into()),
            _ => None,
        }
    };
    match reading.format {
        Format::Td3 | Format::Td2 => {
            let len = if reading.format == Format::Td3 {
                44
            } else {
                36
            };
            let (surname, given_names) = names(0, 5, len);
            ScanFields {
                document_type: cut(0, 0, 2),
                issuing_country: cut(0, 2, 5),
                document_number: cut(1, 0, 9),
                surname,
                given_names,
                nationality: cut(1, 10, 13),
                birth_date: yymmdd(1, 13, true),
                sex: sex(1, 20),
                expiry_date: yymmdd(1, 21, false),
                personal_number: if reading.format == Format::Td3 {
                    cut(1, 28, 42)
                } else {
                    cut(1, 28, 35)
                },
            }
        }
        Format::Td1 => {
            let (surname, given_names) = names(2, 0, 30);
            ScanFields {
                document_type: cut(0, 0, 2),
                issuing_country: cut(0, 2, 5),
                document_number: cut(0, 5, 14),
                surname,
                given_names,
                nationality: cut(1, 15, 18),
                birth_date: yymmdd(1, 0, true),
                sex: sex(1, 7),
                expiry_date: yymmdd(1, 8, false),
                personal_number: cut(0, 15, 30),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use docscan::CellRead;

    fn reading(format: Format, lines: &[&str], score: f32) -> Reading {
        Reading {
            format,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            cells: lines
                .iter()
                .map(|l| {
                    l.bytes()
                        .map(|ch| CellRead {
                            ch,
                            score,
                            margin: 0.1,
                        })
                        .collect()
                })
                .collect(),
            skew_degrees: 0.0,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
    }

    const TD3: [&str; 2] = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ];

    #[test]
    fn a_clean_reading_with_agreeing_check_digits_is_valid_and_its_fields_typed() {
        let report = assess(&reading(Format::Td3, &TD3, 0.95), 0.2, today());
        assert!(report.valid, "{:?}", report.problems);
        assert_eq!(report.fields.document_number.as_deref(), Some("L898902C3"));
        assert_eq!(report.fields.birth_date.as_deref(), Some("1974-08-12"));
        assert_eq!(report.fields.sex.as_deref(), Some("F"));
        assert_eq!(report.fields.given_names.as_deref(), Some("ANNA MARIA"));
        assert_eq!(report.format, Some("TD3"));
        let json = serde_json::to_value(&report).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "fields", "format", "found", "mrz", "problems", "seconds", "valid"
            ]
        );
        let mut field_keys: Vec<&str> = json["fields"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        field_keys.sort_unstable();
        assert_eq!(
            field_keys,
            [
                "birth_date",
                "document_number",
                "document_type",
                "expiry_date",
                "given_names",
                "issuing_country",
                "nationality",
                "personal_number",
                "sex",
                "surname"
            ]
        );
        let text = serde_json::to_string(&report).unwrap();
        assert!(
            text.starts_with(r#"{"found":true,"format":"TD3","mrz":["#),
            "{text}"
        );
    }

    #[test]
    fn a_failed_check_digit_is_never_valid_but_shows_what_was_read() {
        let line2 = TD3[1].replace("7408122", "7408127");
        let report = assess(&reading(Format::Td3, &[TD3[0], &line2], 0.95), 0.2, today());
        assert!(!report.valid);
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.code == ProblemCode::MrzCheckDigit)
        );
        assert_eq!(report.fields.document_number.as_deref(), Some("L898902C3"));
        assert_eq!(report.fields.birth_date.as_deref(), Some("1974-08-12"));
        assert_eq!(report.fields.surname.as_deref(), Some("ERIKSSON"));
    }

    #[test]
    fn a_broken_name_structure_or_a_doubtful_character_is_unclear_even_with_good_digits() {
        let broken = TD3[0].replace("ANNA<MARIA<<<<", "ANNA<MARIA<<K<");
        let report = assess(
            &reading(Format::Td3, &[&broken, TD3[1]], 0.95),
            0.2,
            today(),
        );
        assert!(!report.valid);
        assert_eq!(report.problems[0].code, ProblemCode::MrzUnclear);
        assert_eq!(report.problems[0].field, "names");

        let report = assess(&reading(Format::Td3, &TD3, 0.5), 0.2, today());
        assert!(!report.valid);
        assert_eq!(report.problems.len(), 1);
        assert!(
            report.problems[0].message.contains("88 character(s)"),
            "{}",
            report.problems[0].message
        );
    }

    #[test]
    fn debug_never_shows_the_document_number() {
        let report = assess(&reading(Format::Td3, &TD3, 0.95), 0.2, today());
        let debug = format!("{report:?}");
        assert!(!debug.contains("L898902C3"), "{debug}");
        assert!(!debug.contains("ZE184226B"), "{debug}");
    }

    #[test]
    fn not_found_says_what_to_send() {
        let report = ScanReport::not_found(0.1);
        assert!(!report.found && !report.valid && report.mrz.is_empty());
        assert_eq!(report.problems[0].code, ProblemCode::MrzNotFound);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["format"], serde_json::Value::Null);
        assert_eq!(json["fields"]["surname"], serde_json::Value::Null);
    }
}
