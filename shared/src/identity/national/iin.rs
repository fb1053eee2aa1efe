//! Kazakhstan individual identification number (IIN, ЖСН/ИИН): 12 digits `YYMMDD` birth
//! date, a century-and-sex digit, four serial digits and a control digit.

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

use super::{century_and_sex, date};
use crate::identity::masking::mask_document_number;
use crate::identity::mrz::Sex;
use crate::identity::problem::{Problem, ProblemCode};

/// A Kazakh IIN whose birth date, century digit and control digit are all valid.
#[derive(Clone, PartialEq, Eq)]
pub struct Iin {
    number: String,
    birth_date: NaiveDate,
    sex: Sex,
}

/// Why a string is not a valid IIN.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IinError {
    /// Not exactly 12 digits (spaces aside).
    #[error("The IIN must be exactly 12 digits.")]
    Format,
    /// The 7th digit, which encodes the century of birth and sex, is not 1-6.
    #[error(
        "The 7th digit of the IIN must be 1 to 6 (it encodes the century of birth and sex); it is {digit}."
    )]
    CenturyDigit {
        /// The 7th digit as found.
        digit: u8,
    },
    /// The first six digits (`YYMMDD`) are not a real date.
    #[error("The IIN {masked} does not start with a real birth date (YYMMDD).")]
    BirthDate {
        /// The IIN, masked.
        masked: String,
    },
    /// The 12th digit is not the control digit of the first 11.
    #[error("The IIN {masked} has a wrong control digit: it may have been mistyped.")]
    ControlDigit {
        /// The IIN, masked.
        masked: String,
    },
    /// No control digit exists for the first 11 digits, so no such IIN is issued.
    #[error("The IIN {masked} cannot exist: no control digit is possible for its first 11 digits.")]
    NotIssuable {
        /// The IIN, masked.
        masked: String,
    },
}

impl IinError {
    /// The named problem for reports (field `personal_number`).
    pub fn problem(&self) -> Problem {
        let code = match self {
            Self::Format => ProblemCode::PersonalNumberFormat,
            Self::CenturyDigit { .. } => ProblemCode::IinCenturyDigit,
            Self::BirthDate { .. } => ProblemCode::IinBirthDate,
            Self::ControlDigit { .. } | Self::NotIssuable { .. } => ProblemCode::IinControlDigit,
        };
        Problem::new(code, "personal_number", self.to_string())
    }
}

/// The IIN control digit for the first 11 digits: weights 1..11, sum mod 11; when that
/// is 10, a second pass with weights 3..11, 1, 2; when that is 10 too, none exists.
pub fn iin_control_digit(first_eleven: &[u8; 11]) -> Option<u8> {
    const FIRST: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const SECOND: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];
    for weights in [FIRST, SECOND] {
        let sum: u32 = first_eleven
            .iter()
            .zip(weights)
            .map(|(&digit, weight)| u32::from(digit) * weight)
            .sum();
        let rest = (sum % 11) as u8;
        if rest < 10 {
            return Some(rest);
        }
    }
    None
}

impl Iin {
    /// Parses an IIN; spaces are ignored.
    pub fn parse(text: &str) -> Result<Self, IinError> {
        let number: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if number.len() != 12 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IinError::Format);
        }
        let digits: Vec<u8> = number.bytes().map(|b| b - b'0').collect();
        let masked = mask_document_number(&number);
        let (century, sex) =
            century_and_sex(digits[6]).ok_or(IinError::CenturyDigit { digit: digits[6] })?;
        let birth_date =
            date(century, &number[0..2], &number[2..4], &number[4..6]).ok_or_else(|| {
                IinError::BirthDate {
                    masked: masked.clone(),
                }
            })?;
        let mut first_eleven = [0u8; 11];
        first_eleven.copy_from_slice(&digits[..11]);
        match iin_control_digit(&first_eleven) {
            None => Err(IinError::NotIssuable { masked }),
            Some(control) if control != digits[11] => Err(IinError::ControlDigit { masked }),
            Some(_) => Ok(Self {
                number,
                birth_date,
                sex,
            }),
        }
    }

    /// The full IIN. Do not log it; use [`Iin::masked`].
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The IIN masked for display and logs.
    pub fn masked(&self) -> String {
        mask_document_number(&self.number)
    }

    /// The birth date from the first six digits (`YYMMDD`), its century from the 7th digit.
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// The sex from the 7th digit (odd male, even female).
    pub fn sex(&self) -> Sex {
        self.sex
    }
}

impl fmt::Debug for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iin")
            .field("number", &self.masked())
            .field("birth_date", &self.birth_date)
            .field("sex", &self.sex)
            .finish()
    }
}
