//! Russian internal passport series and number: four digits of series (region code and
//! year of issue) and six digits of number, like `45 06 123456`. Russia publishes no check
//! digit for it, so only the shape can be verified.

use std::fmt;

use thiserror::Error;

use crate::identity::masking::mask_document_number;
use crate::identity::problem::{Problem, ProblemCode};

/// A Russian internal passport series and number of the right shape.
#[derive(Clone, PartialEq, Eq)]
pub struct RuPassport {
    series: String,
    number: String,
}

/// Why a string is not a Russian passport series and number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RuPassportError {
    /// Not 10 digits once spaces, `№` and hyphens are removed.
    #[error(
        "The Russian passport series and number must be 10 digits: a 4-digit series and a 6-digit number, like 45 06 123456."
    )]
    Format,
}

impl RuPassportError {
    /// The named problem for reports (field `document_number`).
    pub fn problem(&self) -> Problem {
        Problem::new(
            ProblemCode::DocumentNumberFormat,
            "document_number",
            self.to_string(),
        )
    }
}

impl RuPassport {
    /// Parses `4506 123456`, `45 06 123456`, `4506123456` or `4506 №123456`.
    pub fn parse(text: &str) -> Result<Self, RuPassportError> {
        let digits: String = text
            .chars()
            .filter(|c| !(c.is_whitespace() || *c == '№' || *c == '-'))
            .collect();
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RuPassportError::Format);
        }
        Ok(Self {
            series: digits[..4].to_owned(),
            number: digits[4..].to_owned(),
        })
    }

    /// The four-digit series.
    pub fn series(&self) -> &str {
        &self.series
    }

    /// The six-digit number. Do not log it; use [`RuPassport::masked`].
    pub fn number(&self) -> &str {
        &self.number
    }

    /// Series and number as ten digits.
    pub fn as_digits(&self) -> String {
        format!("{}{}", self.series, self.number)
    }

    /// Series and number masked for display and logs.
    pub fn masked(&self) -> String {
        mask_document_number(&self.as_digits())
    }
}

impl fmt::Debug for RuPassport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuPassport({})", self.masked())
    }
}
