//! The named problems every identity check reports: a stable snake_case code, the input
//! field it concerns, and a sentence a support agent and a customer both understand.

use serde::Serialize;

/// What is wrong, as a stable machine-readable code (`mrz_check_digit`, `document_expired`...).
///
/// The serialized names are a public contract (API answers, the `check-document` CLI,
/// customer emails pick their wording by code): never rename a variant's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The MRZ does not have the ICAO 9303 shape (line count, lengths, characters, codes).
    MrzLayout,
    /// An MRZ check digit does not match the data it protects.
    MrzCheckDigit,
    /// An MRZ date field is not a calendar date.
    MrzDate,
    /// No machine-readable zone was found in the picture of the document.
    MrzNotFound,
    /// Characters of a machine-readable zone read from a picture are not certain (a name
    /// whose structure is broken, a character that matches no glyph well).
    MrzUnclear,
    /// The Kazakh IIN's control digit is wrong (or no valid control digit exists).
    IinControlDigit,
    /// The Kazakh IIN does not start with a real birth date.
    IinBirthDate,
    /// The Kazakh IIN's 7th digit (century and sex) is not 1-6.
    IinCenturyDigit,
    /// A national personal number has the wrong shape for its country.
    PersonalNumberFormat,
    /// A national personal number's check character is wrong.
    PersonalNumberCheck,
    /// A national personal number encodes a birth date that does not exist.
    PersonalNumberBirthDate,
    /// The personal number printed in the MRZ differs from the one given.
    PersonalNumberMismatch,
    /// A document number has the wrong shape (e.g. a Russian passport series and number).
    DocumentNumberFormat,
    /// The document number given differs from the one in the MRZ.
    DocumentNumberMismatch,
    /// The document expired before the date it is checked on.
    DocumentExpired,
    /// The expiry date given differs from the one in the MRZ.
    ExpiryDateMismatch,
    /// Birth dates from the MRZ, the national number and the form disagree.
    BirthDateMismatch,
    /// The sex in the MRZ differs from the one the national number encodes.
    SexMismatch,
    /// The holder's name does not match the payer or customer.
    NameMismatch,
    /// The name typed from the document differs from the name in its MRZ.
    HolderNameMismatch,
    /// The file is empty.
    FileEmpty,
    /// The file is not a JPEG, PNG or PDF.
    FileTypeUnsupported,
    /// The file is a HEIC/HEIF photo (iPhone default), which we do not accept.
    FileHeic,
    /// The file is larger than the limit.
    FileTooLarge,
    /// The file claims a type but its content cannot be read (truncated or damaged).
    FileDamaged,
    /// The PDF is password-protected or encrypted.
    PdfEncrypted,
    /// The PDF has more pages than the limit.
    PdfTooManyPages,
    /// The image is too small for a person to read the document.
    ImageTooSmall,
}

impl ProblemCode {
    /// The stable snake_case code, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MrzLayout => "mrz_layout",
            Self::MrzCheckDigit => "mrz_check_digit",
            Self::MrzDate => "mrz_date",
            Self::MrzNotFound => "mrz_not_found",
            Self::MrzUnclear => "mrz_unclear",
            Self::IinControlDigit => "iin_control_digit",
            Self::IinBirthDate => "iin_birth_date",
            Self::IinCenturyDigit => "iin_century_digit",
            Self::PersonalNumberFormat => "personal_number_format",
            Self::PersonalNumberCheck => "personal_number_check",
            Self::PersonalNumberBirthDate => "personal_number_birth_date",
            Self::PersonalNumberMismatch => "personal_number_mismatch",
            Self::DocumentNumberFormat => "document_number_format",
            Self::DocumentNumberMismatch => "document_number_mismatch",
            Self::DocumentExpired => "document_expired",
            Self::ExpiryDateMismatch => "expiry_date_mismatch",
            Self::BirthDateMismatch => "birth_date_mismatch",
            Self::SexMismatch => "sex_mismatch",
            Self::NameMismatch => "name_mismatch",
            Self::HolderNameMismatch => "holder_name_mismatch",
            Self::FileEmpty => "file_empty",
            Self::FileTypeUnsupported => "file_type_unsupported",
            Self::FileHeic => "file_heic",
            Self::FileTooLarge => "file_too_large",
            Self::FileDamaged => "file_damaged",
            Self::PdfEncrypted => "pdf_encrypted",
            Self::PdfTooManyPages => "pdf_too_many_pages",
            Self::ImageTooSmall => "image_too_small",
        }
    }
}

impl std::fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with a document: what (`code`), where (`field`, e.g. `birth_date` or
/// `composite` for an MRZ digit) and a plain sentence saying so (`message`).
///
/// Messages never contain a full document or personal number (see
/// [`mask_document_number`](super::mask_document_number)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// What is wrong, as a stable code.
    pub code: ProblemCode,
    /// Where: the input or MRZ field (`birth_date`, `composite`, `file`...).
    pub field: String,
    /// A plain sentence saying what is wrong, for the person who sent the document.
    pub message: String,
}

impl Problem {
    /// A problem with this code, field and message.
    pub fn new(code: ProblemCode, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.field, self.message)
    }
}
