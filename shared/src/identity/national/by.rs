//! Belarus personal identification number (идентификационный номер): 14 characters, e.g.
//! `3120589A012PB3`: century-and-sex digit, `DDMMYY` birth date, region letter, three
//! serial digits, two citizenship letters and a check digit.

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

use super::{century_and_sex, date, latin_lookalike};
use crate::identity::masking::mask_document_number;
use crate::identity::mrz::{Sex, check_digit};
use crate::identity::problem::{Problem, ProblemCode};

/// A Belarus personal identification number with a valid birth date and check digit.
#[derive(Clone, PartialEq, Eq)]
pub struct ByPersonalNumber {
    number: String,
    birth_date: NaiveDate,
    sex: Sex,
}

/// Why a string is not a valid Belarus personal identification number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ByPersonalNumberError {
    /// Not 14 characters of the right kinds, or a first digit other than 1-6.
    #[error(
        "The Belarus personal number must have 14 characters: a digit 1-6, six digits of the birth date, a letter, three digits, two letters and a check digit (like 3120589A012PB3)."
    )]
    Format,
    /// Characters 2-7 (`DDMMYY`) are not a real date.
    #[error("The Belarus personal number {masked} does not contain a real birth date.")]
    BirthDate {
        /// The number, masked.
        masked: String,
    },
    /// The last digit is not the ICAO 9303 check digit (weights 7, 3, 1) of the first 13
    /// characters.
    #[error(
        "The Belarus personal number {masked} has a wrong check digit: it may have been mistyped."
    )]
    CheckDigit {
        /// The number, masked.
        masked: String,
    },
}

impl ByPersonalNumberError {
    /// The named problem for reports (field `personal_number`).
    pub fn problem(&self) -> Problem {
        let code = match self {
            Self::Format => ProblemCode::PersonalNumberFormat,
            Self::BirthDate { .. } => ProblemCode::PersonalNumberBirthDate,
            Self::CheckDigit { .. } => ProblemCode::PersonalNumberCheck,
        };
        Problem::new(code, "personal_number", self.to_string())
    }
}

impl ByPersonalNumber {
    /// Parses the number; spaces are ignored, letters may be lowercase or Cyrillic
    /// look-alikes (`РВ` typed for `PB`).
    pub fn parse(text: &str) -> Result<Self, ByPersonalNumberError> {
        let number: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(latin_lookalike)
            .collect();
        let bytes = number.as_bytes();
        let shape_ok = bytes.len() == 14
            && bytes[..7].iter().all(u8::is_ascii_digit)
            && bytes[7].is_ascii_uppercase()
            && bytes[8..11].iter().all(u8::is_ascii_digit)
            && bytes[11..13].iter().all(u8::is_ascii_uppercase)
            && bytes[13].is_ascii_digit();
        if !shape_ok {
            return Err(ByPersonalNumberError::Format);
        }
        let (century, sex) =
            century_and_sex(bytes[0] - b'0').ok_or(ByPersonalNumberError::Format)?;
        let masked = mask_document_number(&number);
        let birth_date =
            date(century, &number[5..7], &number[3..5], &number[1..3]).ok_or_else(|| {
                ByPersonalNumberError::BirthDate {
                    masked: masked.clone(),
                }
            })?;
        // The check digit uses the ICAO 9303 weights 7, 3, 1 with A = 10 ... Z = 35.
        if check_digit(&number[..13]).map(|d| d + b'0') != Some(bytes[13]) {
            return Err(ByPersonalNumberError::CheckDigit { masked });
        }
        Ok(Self {
            number,
            birth_date,
            sex,
        })
    }

    /// The full number. Do not log it; use [`ByPersonalNumber::masked`].
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The number masked for display and logs.
    pub fn masked(&self) -> String {
        mask_document_number(&self.number)
    }

    /// The birth date from characters 2-7 (`DDMMYY`), its century from the first digit.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex from the first digit (odd male, even female).
    pub fn sex(&self) -> Sex {
        self.sex
    }
}

impl fmt::Debug for ByPersonalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByPersonalNumber")
            .field("number", &self.masked())
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .finish()
    }
}
