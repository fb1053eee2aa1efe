//! Latvian personal code (personas kods), 11 digits written `XXXXXX-XXXXX`: the old form
//! `DDMMYY-CNNNK` (birth date, century digit, serial, checksum) and the form issued since
//! 1 July 2017, which starts with `32` and carries no birth date.

use std::fmt;

use chrono::NaiveDate;
use thiserror::Error;

use super::date;
use crate::identity::masking::mask_document_number;
use crate::identity::problem::{Problem, ProblemCode};

/// A Latvian personal code in either form.
#[derive(Clone, PartialEq, Eq)]
pub struct LvPersonalCode {
    /// Eleven digits, without the hyphen.
    digits: String,
    /// The birth date for old-form codes; new-form codes do not encode one.
    birth_date: Option<NaiveDate>,
}

/// Why a string is not a valid Latvian personal code.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LvPersonalCodeError {
    /// Not 11 digits, or a hyphen anywhere but after the sixth digit.
    #[error("The Latvian personal code must be 11 digits, written like 121282-11210.")]
    Format,
    /// An old-form code whose `DDMMYY` and century digit (0, 1 or 2) are not a real date.
    #[error("The Latvian personal code {masked} does not start with a real birth date.")]
    BirthDate {
        /// The code, masked.
        masked: String,
    },
    /// An old-form code whose last digit is not its check digit.
    #[error(
        "The Latvian personal code {masked} has a wrong check digit: it may have been mistyped."
    )]
    CheckDigit {
        /// The code, masked.
        masked: String,
    },
}

impl LvPersonalCodeError {
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

/// The old-form check digit: `(1101 - Σ dᵢ·wᵢ) mod 11` with weights 1, 6, 3, 7, 9, 10, 5,
/// 8, 4, 2. A result of 10 is written as 0 (as python-stdnum does); such codes are rare.
pub fn lv_check_digit(first_ten: &[u8; 10]) -> u8 {
    const WEIGHTS: [u32; 10] = [1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first_ten
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    // 1101 ≡ 1 (mod 11), so the check is (1 - sum) mod 11, kept unsigned as 12 - sum mod 11.
    (((12 - sum % 11) % 11) % 10) as u8
}

impl LvPersonalCode {
    /// Parses `DDMMYY-CNNNK`, `DDMMYYCNNNK` or a `32…` code; spaces are ignored.
    pub fn parse(text: &str) -> Result<Self, LvPersonalCodeError> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let digits = match compact.char_indices().find(|(_, c)| *c == '-') {
            None => compact.clone(),
            Some((6, _)) => compact.replacen('-', "", 1),
            Some(_) => return Err(LvPersonalCodeError::Format),
        };
        if digits.len() != 11 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LvPersonalCodeError::Format);
        }
        let masked = mask_document_number(&digits);
        if digits.starts_with("32") {
            // The 2017 form is a random number: nothing but the shape can be checked.
            return Ok(Self {
                digits,
                birth_date: None,
            });
        }
        let century = match digits.as_bytes()[6] {
            b'0' => 1800,
            b'1' => 1900,
            b'2' => 2000,
            _ => return Err(LvPersonalCodeError::BirthDate { masked }),
        };
        let birth_date =
            date(century, &digits[4..6], &digits[2..4], &digits[0..2]).ok_or_else(|| {
                LvPersonalCodeError::BirthDate {
                    masked: masked.clone(),
                }
            })?;
        let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let mut first_ten = [0u8; 10];
        first_ten.copy_from_slice(&values[..10]);
        if lv_check_digit(&first_ten) != values[10] {
            return Err(LvPersonalCodeError::CheckDigit { masked });
        }
        Ok(Self {
            digits,
            birth_date: Some(birth_date),
        })
    }

    /// The eleven digits without the hyphen. Do not log them; use [`LvPersonalCode::masked`].
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    /// The code masked for display and logs.
    pub fn masked(&self) -> String {
        mask_document_number(&self.digits)
    }

    /// The birth date encoded in an old-form code; `None` for the `32…` form.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.birth_date
    }

    /// True for the 2017 form (`32…`), which encodes no birth date.
    pub fn is_new_form(&self) -> bool {
        self.birth_date.is_none()
    }
}

impl fmt::Debug for LvPersonalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LvPersonalCode")
            .field("digits", &self.masked())
            .field("birth_date", &self.birth_date)
            .finish()
    }
}
