//! The machine-readable zone (MRZ) of passports (ICAO 9303 TD3: 2 lines of 44), ID cards
//! (TD1: 3 lines of 30) and larger ID cards (TD2: 2 lines of 36): layout, every check digit including the composite one, long
//! document numbers continued in the optional data, and the fields a person can read.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use thiserror::Error;

use super::masking::mask_document_number;
use super::problem::{Problem, ProblemCode};

/// Which ICAO 9303 size the MRZ has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum MrzFormat {
    /// ID cards: 3 lines of 30 characters.
    #[serde(rename = "TD1")]
    Td1,
    /// Larger ID cards: 2 lines of 36 characters.
    #[serde(rename = "TD2")]
    Td2,
    /// Passports: 2 lines of 44 characters.
    #[serde(rename = "TD3")]
    Td3,
}

impl MrzFormat {
    fn line_length(self) -> usize {
        match self {
            Self::Td1 => 30,
            Self::Td2 => 36,
            Self::Td3 => 44,
        }
    }
}

/// The holder's sex as printed in the MRZ (`<` and `X` both mean unspecified).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female (`F`).
    Female,
    /// Male (`M`).
    Male,
    /// Not stated (`<` or `X`).
    Unspecified,
}

/// A document number: the full value is available to code that needs it, but Debug and
/// Display show it masked (`L8***C3`) so it never reaches a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct DocumentNumber(String);

impl DocumentNumber {
    /// Wraps a document number as read; nothing is checked.
    pub fn new(number: impl Into<String>) -> Self {
        Self(number.into())
    }

    /// The full number. Do not log it; use [`DocumentNumber::masked`].
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number masked for display and logs (`L8***C3`).
    pub fn masked(&self) -> String {
        mask_document_number(&self.0)
    }
}

impl fmt::Debug for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentNumber({})", self.masked())
    }
}

impl fmt::Display for DocumentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A parsed MRZ whose layout and check digits are all correct.
///
/// Dates carry a century chosen by rule (the MRZ has two-digit years): the expiry date is
/// 20YY for YY < 70, else 19YY; the birth date is 20YY unless that is after the expiry
/// date, then 19YY.
#[derive(Clone, PartialEq, Eq)]
pub struct Mrz {
    /// TD3 (passport) or TD1 (ID card).
    pub format: MrzFormat,
    /// `P`, `PN`, `ID`, `I`, `AC`... (fillers removed).
    pub document_code: String,
    /// Three-letter ICAO code of the issuing state (`KAZ`, `BLR`, `D`...).
    pub issuing_state: String,
    /// Primary identifier (surname), words separated by single spaces.
    pub surname: String,
    /// Secondary identifiers (given names), words separated by single spaces.
    pub given_names: String,
    /// The full document number, including the part continued in the optional data of a
    /// TD1 card when the number is longer than 9 characters.
    pub document_number: DocumentNumber,
    /// Three-letter ICAO code of the holder's nationality.
    pub nationality: String,
    /// The holder's birth date.
    pub birth_date: NaiveDate,
    /// The holder's sex as printed.
    pub sex: Sex,
    /// The document's expiry date.
    pub expiry_date: NaiveDate,
    /// The optional data (TD3 personal number; TD1 both optional fields joined by a
    /// space), fillers removed. Often holds a national personal number, so Debug masks it.
    pub optional_data: String,
}

impl Mrz {
    /// The name as one string, surname first: `ERIKSSON ANNA MARIA`.
    pub fn full_name(&self) -> String {
        [self.surname.as_str(), self.given_names.as_str()]
            .iter()
            .filter(|part| !part.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Debug for Mrz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mrz")
            .field("format", &self.format)
            .field("document_code", &self.document_code)
            .field("issuing_state", &self.issuing_state)
            .field("surname", &self.surname)
            .field("given_names", &self.given_names)
            .field("document_number", &self.document_number)
            .field("nationality", &self.nationality)
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .field("expiry_date", &self.expiry_date)
            .field("optional_data", &mask_document_number(&self.optional_data))
            .finish()
    }
}

/// A field of the MRZ, named as in problem reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MrzField {
    /// The document code (`P`, `ID`...).
    DocumentCode,
    /// The issuing state's code.
    IssuingState,
    /// The holder's name (surname and given names).
    Name,
    /// The document number and its check digit.
    DocumentNumber,
    /// The holder's nationality code.
    Nationality,
    /// The birth date (`YYMMDD`) and its check digit.
    BirthDate,
    /// The sex (`M`, `F`, `X` or `<`).
    Sex,
    /// The expiry date (`YYMMDD`) and its check digit.
    ExpiryDate,
    /// The optional data (often a personal number) and, on a TD3 passport, its check digit.
    OptionalData,
    /// The composite check digit over the number, dates and optional data.
    Composite,
}

impl MrzField {
    /// The field name used in problem reports (`document_number`, `composite`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DocumentCode => "document_code",
            Self::IssuingState => "issuing_state",
            Self::Name => "name",
            Self::DocumentNumber => "document_number",
            Self::Nationality => "nationality",
            Self::BirthDate => "birth_date",
            Self::Sex => "sex",
            Self::ExpiryDate => "expiry_date",
            Self::OptionalData => "optional_data",
            Self::Composite => "composite",
        }
    }

    fn described(self) -> &'static str {
        match self {
            Self::DocumentCode => "document type code",
            Self::IssuingState => "issuing country",
            Self::Name => "name",
            Self::DocumentNumber => "document number",
            Self::Nationality => "nationality",
            Self::BirthDate => "birth date",
            Self::Sex => "sex",
            Self::ExpiryDate => "expiry date",
            Self::OptionalData => "personal number (optional data)",
            Self::Composite => "whole zone (composite)",
        }
    }
}

impl fmt::Display for MrzField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.described())
    }
}

/// One way an MRZ can be wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MrzError {
    /// The zone has neither 2 nor 3 lines.
    #[error(
        "The machine-readable zone has {found} line(s); a passport has 2 lines of 44 characters and an ID card 3 lines of 30."
    )]
    LineCount {
        /// How many non-blank lines it has.
        found: usize,
    },
    /// A line's length is not the one its format needs (the format follows from the line count).
    #[error(
        "Line {line} of the machine-readable zone has {found} characters; this document type needs {expected}."
    )]
    LineLength {
        /// The line, counting from 1.
        line: usize,
        /// Its length in characters.
        found: usize,
        /// The length the format needs (44 or 30).
        expected: usize,
    },
    /// A line holds a character other than A-Z, 0-9 and `<`.
    #[error(
        "Line {line} of the machine-readable zone contains '{character}' at position {position}; only A-Z, 0-9 and < are allowed."
    )]
    Character {
        /// The line, counting from 1.
        line: usize,
        /// The character's position in the line, counting from 1.
        position: usize,
        /// The character found.
        character: char,
    },
    /// A field's content is not valid, e.g. digits in the name.
    #[error("The {field} in the machine-readable zone is not valid: {reason}.")]
    Field {
        /// The field.
        field: MrzField,
        /// Why, as a phrase that ends the error's sentence.
        reason: String,
    },
    /// A check digit does not match its field: the zone was misread or altered.
    #[error(
        "The check digit of the {field} in the machine-readable zone is '{found}' but should be {expected}: the zone was misread or altered."
    )]
    CheckDigit {
        /// The field (or `Composite`) the digit checks.
        field: MrzField,
        /// The check digit printed.
        found: char,
        /// The check digit computed as ICAO 9303 says.
        expected: u8,
    },
    /// A date field is not a real calendar date.
    #[error("The {field} in the machine-readable zone is not a real date.")]
    Date {
        /// The birth or expiry date.
        field: MrzField,
    },
}

impl MrzError {
    /// The named problem for reports.
    pub fn problem(&self) -> Problem {
        let (code, field) = match self {
            Self::LineCount { .. } | Self::LineLength { .. } | Self::Character { .. } => {
                (ProblemCode::MrzLayout, "mrz")
            }
            Self::Field { field, .. } => (ProblemCode::MrzLayout, field.as_str()),
            Self::CheckDigit { field, .. } => (ProblemCode::MrzCheckDigit, field.as_str()),
            Self::Date { field } => (ProblemCode::MrzDate, field.as_str()),
        };
        Problem::new(code, field, self.to_string())
    }
}

/// Every reason an MRZ was refused (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
pub struct MrzRejected(pub Vec<MrzError>);

impl MrzRejected {
    /// One named problem per reason, for reports.
    pub fn problems(&self) -> Vec<Problem> {
        self.0.iter().map(MrzError::problem).collect()
    }
}

/// The ICAO 9303 check digit of `data`: weights 7, 3, 1 repeating; digits count as
/// themselves, A-Z as 10-35, the filler `<` as 0. `None` for any other character.
pub fn check_digit(data: &str) -> Option<u8> {
    let mut sum: u32 = 0;
    for (index, byte) in data.bytes().enumerate() {
        let value = match byte {
            b'0'..=b'9' => u32::from(byte - b'0'),
            b'A'..=b'Z' => u32::from(byte - b'A') + 10,
            b'<' => 0,
            _ => return None,
        };
        sum += value * [7, 3, 1][index % 3];
    }
    Some((sum % 10) as u8)
}

/// Parses an MRZ: 2 lines of 44 (TD3) or 3 lines of 30 (TD1), separated by newlines.
///
/// Tolerates what people and OCR add: surrounding whitespace, blank lines, spaces inside a
/// line, lowercase letters, and a zone pasted as one line of 88 or 90 characters. Returns
/// every problem found: layout problems stop the parse; check digits and dates are all
/// checked and reported together.
pub fn parse(text: &str) -> Result<Mrz, MrzRejected> {
    let lines = normalized_lines(text);
    let format = match lines.len() {
        2 if lines[0].chars().count() == 36 => MrzFormat::Td2,
        2 => MrzFormat::Td3,
        3 => MrzFormat::Td1,
        found => return Err(MrzRejected(vec![MrzError::LineCount { found }])),
    };
    let mut layout = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let found = line.chars().count();
        if found != format.line_length() {
            layout.push(MrzError::LineLength {
                line: index + 1,
                found,
                expected: format.line_length(),
            });
        } else if let Some((position, character)) = line
            .chars()
            .enumerate()
            .find(|(_, c)| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<'))
        {
            layout.push(MrzError::Character {
                line: index + 1,
                position: position + 1,
                character,
            });
        }
    }
    if !layout.is_empty() {
        return Err(MrzRejected(layout));
    }
    // From here every line is ASCII of the right length, so byte slicing is safe.
    match format {
        MrzFormat::Td3 | MrzFormat::Td2 => parse_two_lines(format, &lines[0], &lines[1]),
        MrzFormat::Td1 => parse_td1(&lines[0], &lines[1], &lines[2]),
    }
}

fn normalized_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            line.chars()
                .filter(|c| !c.is_whitespace())
                .map(|c| c.to_ascii_uppercase())
                .collect::<String>()
        })
        .filter(|line| !line.is_empty())
        .collect();
    if lines.len() == 1 && lines[0].is_ascii() {
        let width = match lines[0].len() {
            88 => Some(44),
            72 => Some(36),
            90 => Some(30),
            _ => None,
        };
        if let Some(width) = width {
            let joined = lines.remove(0);
            lines = joined
                .as_bytes()
                .chunks(width)
                .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
                .collect();
        }
    }
    lines
}

/// Collects field errors while the fields are read.
#[derive(Default)]
struct Findings(Vec<MrzError>);

impl Findings {
    fn check(&mut self, field: MrzField, data: &str, digit: u8) {
        let expected = check_digit(data).unwrap_or(0);
        if digit != b'0' + expected {
            self.0.push(MrzError::CheckDigit {
                field,
                found: char::from(digit),
                expected,
            });
        }
    }

    fn invalid(&mut self, field: MrzField, reason: &str) {
        self.0.push(MrzError::Field {
            field,
            reason: reason.to_owned(),
        });
    }
}

/// Passports (TD3, ICAO 9303-4) and larger ID cards (TD2, 9303-6) share one layout on two
/// lines: TD3 has 14 characters of optional data (the personal number) with a check digit of
/// their own, TD2 has 7 without one.
fn parse_two_lines(format: MrzFormat, line1: &str, line2: &str) -> Result<Mrz, MrzRejected> {
    let mut findings = Findings::default();
    let l2 = line2.as_bytes();
    let len = format.line_length();
    let td3 = format == MrzFormat::Td3;

    let codes: &[char] = if td3 { &['P'] } else { &['I', 'A', 'C', 'V'] };
    let document_code = document_code(&line1[0..2], codes, &mut findings);
    let issuing_state = country(&line1[2..5], MrzField::IssuingState, &mut findings);
    let (surname, given_names) = name(&line1[5..len], &mut findings);

    let number = &line2[0..9];
    findings.check(MrzField::DocumentNumber, number, l2[9]);
    let nationality = country(&line2[10..13], MrzField::Nationality, &mut findings);
    findings.check(MrzField::BirthDate, &line2[13..19], l2[19]);
    let sex = sex(l2[20], &mut findings);
    findings.check(MrzField::ExpiryDate, &line2[21..27], l2[27]);
    let optional = &line2[28..if td3 { 42 } else { 35 }];
    // ICAO 9303-4: when the personal number field is all fillers its check digit may be
    // a filler or zero.
    let optional_empty = optional.bytes().all(|b| b == b'<');
    if td3 && !(optional_empty && (l2[42] == b'<' || l2[42] == b'0')) {
        findings.check(MrzField::OptionalData, optional, l2[42]);
    }
    let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..len - 1]);
    findings.check(MrzField::Composite, &composite, l2[len - 1]);

    let dates = dates(&line2[13..19], &line2[21..27], &mut findings);
    if let (true, Some((birth_date, expiry_date))) = (findings.0.is_empty(), dates) {
        Ok(Mrz {
            format,
            document_code,
            issuing_state,
            surname,
            given_names,
            document_number: DocumentNumber::new(number.trim_end_matches('<')),
            nationality,
            birth_date,
            sex,
            expiry_date,
            optional_data: optional.trim_end_matches('<').replace('<', " "),
        })
    } else {
        Err(MrzRejected(findings.0))
    }
}

fn parse_td1(line1: &str, line2: &str, line3: &str) -> Result<Mrz, MrzRejected> {
    let mut findings = Findings::default();
    let l1 = line1.as_bytes();
    let l2 = line2.as_bytes();

    let document_code = document_code(&line1[0..2], &['I', 'A', 'C'], &mut findings);
    let issuing_state = country(&line1[2..5], MrzField::IssuingState, &mut findings);

    let head = &line1[5..14];
    let mut optional1 = &line1[15..30];
    let document_number = if l1[14] == b'<' && !head.ends_with('<') {
        // ICAO 9303-5: a number longer than 9 characters continues in the optional data,
        // followed by its check digit and a filler.
        let run = optional1.find('<').unwrap_or(optional1.len());
        let continued = &optional1[..run];
        if continued.len() < 2 {
            findings.invalid(
                MrzField::DocumentNumber,
                "the number is marked as continued in the optional data, but the continuation is missing",
            );
            head.to_owned()
        } else {
            let (rest, digit) = continued.split_at(continued.len() - 1);
            let full = format!("{head}{rest}");
            findings.check(MrzField::DocumentNumber, &full, digit.as_bytes()[0]);
            optional1 = &optional1[run..];
            full
        }
    } else {
        findings.check(MrzField::DocumentNumber, head, l1[14]);
        head.trim_end_matches('<').to_owned()
    };

    findings.check(MrzField::BirthDate, &line2[0..6], l2[6]);
    let sex = sex(l2[7], &mut findings);
    findings.check(MrzField::ExpiryDate, &line2[8..14], l2[14]);
    let nationality = country(&line2[15..18], MrzField::Nationality, &mut findings);
    let composite = format!(
        "{}{}{}{}",
        &line1[5..30],
        &line2[0..7],
        &line2[8..15],
        &line2[18..29]
    );
    findings.check(MrzField::Composite, &composite, l2[29]);
    let (surname, given_names) = name(line3, &mut findings);

    let optional_data = [optional1, &line2[18..29]]
        .iter()
        .map(|part| part.trim_matches('<').replace('<', " "))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");

    let dates = dates(&line2[0..6], &line2[8..14], &mut findings);
    if let (true, Some((birth_date, expiry_date))) = (findings.0.is_empty(), dates) {
        Ok(Mrz {
            format: MrzFormat::Td1,
            document_code,
            issuing_state,
            surname,
            given_names,
            document_number: DocumentNumber::new(document_number),
            nationality,
            birth_date,
            sex,
            expiry_date,
            optional_data,
        })
    } else {
        Err(MrzRejected(findings.0))
    }
}

fn document_code(code: &str, first_letters: &[char], findings: &mut Findings) -> String {
    let mut chars = code.chars();
    let first = chars.next().unwrap_or('<');
    let second = chars.next().unwrap_or('<');
    if !first_letters.contains(&first) || second.is_ascii_digit() {
        let expected = first_letters
            .iter()
            .map(char::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        findings.invalid(
            MrzField::DocumentCode,
            &format!("'{code}' should start with one of {expected}, followed by a letter or <"),
        );
    }
    code.trim_end_matches('<').to_owned()
}

fn country(code: &str, field: MrzField, findings: &mut Findings) -> String {
    let letters_or_fillers = code.bytes().all(|b| b.is_ascii_uppercase() || b == b'<');
    if !letters_or_fillers || !code.starts_with(|c: char| c.is_ascii_uppercase()) {
        findings.invalid(field, &format!("'{code}' is not a country code"));
    }
    code.trim_end_matches('<').to_owned()
}

fn name(field: &str, findings: &mut Findings) -> (String, String) {
    if field.bytes().any(|b| b.is_ascii_digit()) {
        findings.invalid(MrzField::Name, "it contains digits");
    }
    let words = |part: &str| {
        part.split('<')
            .filter(|word| !word.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (primary, secondary) = field.split_once("<<").unwrap_or((field, ""));
    let surname = words(primary);
    if surname.is_empty() {
        findings.invalid(MrzField::Name, "the surname is missing");
    }
    (surname, words(secondary))
}

fn sex(code: u8, findings: &mut Findings) -> Sex {
    match code {
        b'F' => Sex::Female,
        b'M' => Sex::Male,
        b'<' | b'X' => Sex::Unspecified,
        other => {
            findings.invalid(
                MrzField::Sex,
                &format!("'{}' is not one of M, F, X or <", char::from(other)),
            );
            Sex::Unspecified
        }
    }
}

/// Reads the birth and expiry dates (YYMMDD) and chooses their centuries.
fn dates(birth: &str, expiry: &str, findings: &mut Findings) -> Option<(NaiveDate, NaiveDate)> {
    let birth_parts = yymmdd(birth);
    let expiry_parts = yymmdd(expiry);
    let expiry_date = expiry_parts.and_then(|(yy, mm, dd)| {
        let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
        NaiveDate::from_ymd_opt(year, mm, dd)
    });
    if expiry_date.is_none() {
        findings.0.push(MrzError::Date {
            field: MrzField::ExpiryDate,
        });
    }
    let birth_date = birth_parts.and_then(|(yy, mm, dd)| {
        let recent = 2000 + yy;
        let year = match expiry_date {
            Some(expiry) if (recent, mm, dd) > (expiry.year(), expiry.month(), expiry.day()) => {
                1900 + yy
            }
            _ => recent,
        };
        NaiveDate::from_ymd_opt(year, mm, dd)
    });
    if birth_date.is_none() {
        findings.0.push(MrzError::Date {
            field: MrzField::BirthDate,
        });
    }
    Some((birth_date?, expiry_date?))
}

/// Splits `YYMMDD` into numbers; `None` unless all six are digits.
pub(crate) fn yymmdd(text: &str) -> Option<(i32, u32, u32)> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    Some((number(0..2)? as i32, number(2..4)?, number(4..6)?))
}
