//! The whole identity-document check: every individual check (file, MRZ, national
//! number) plus the consistency between them and the application (not expired on the
//! received date, one birth date, the holder is the payer or customer).

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::file::{self, FileInfo};
use super::masking::mask_document_number;
use super::mrz::{self, Mrz, MrzFormat, Sex};
use super::names::{NAME_MATCH_THRESHOLD, NameMatch, match_names};
use super::national::{ByPersonalNumber, Iin, LvPersonalCode, RuPassport};
use super::problem::{Problem, ProblemCode};

/// What was read from an identity document; every part is optional.
#[derive(Clone, Default)]
pub struct DocumentInput {
    /// MRZ lines separated by newlines.
    pub mrz: Option<String>,
    /// ISO 3166 alpha-2 or alpha-3 code of the issuing country (`KZ`, `BLR`). When absent,
    /// the MRZ's issuing state is used.
    pub country: Option<String>,
    /// The national personal number (KZ IIN, BY personal number, LV personas kods).
    pub personal_number: Option<String>,
    /// The document number as typed (for Russia without MRZ: internal passport series and
    /// number).
    pub document_number: Option<String>,
    /// The holder's birth date as typed.
    pub birth_date: Option<NaiveDate>,
    /// The document's expiry date as typed.
    pub expires_on: Option<NaiveDate>,
    /// The holder's name as typed from the document, any script.
    pub holder_name: Option<String>,
    /// The scan or photo itself.
    pub file: Option<Vec<u8>>,
}

impl fmt::Debug for DocumentInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentInput")
            .field("mrz", &self.mrz.as_ref().map(|_| "<present>"))
            .field("country", &self.country)
            .field(
                "personal_number",
                &self.personal_number.as_deref().map(mask_document_number),
            )
            .field(
                "document_number",
                &self.document_number.as_deref().map(mask_document_number),
            )
            .field("birth_date", &self.birth_date)
            .field("expires_on", &self.expires_on)
            .field("holder_name", &self.holder_name)
            .field("file_bytes", &self.file.as_ref().map(Vec::len))
            .finish()
    }
}

/// What the document must agree with: the payer's or customer's name and the date the
/// application was received.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// The payer's (cardholder's) or customer's name, which the holder's name must match.
    pub name: Option<String>,
    /// The date the application was received; the document must not have expired before it.
    pub on: Option<NaiveDate>,
}

/// Countries whose national numbers are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Country {
    /// Kazakhstan (`KZ`): the IIN is checked.
    #[serde(rename = "KZ")]
    Kazakhstan,
    /// Belarus (`BY`): the personal identification number is checked.
    #[serde(rename = "BY")]
    Belarus,
    /// Latvia (`LV`): the personal code (personas kods) is checked.
    #[serde(rename = "LV")]
    Latvia,
    /// Russia (`RU`): without an MRZ, the internal passport series and number are checked for
    /// shape.
    #[serde(rename = "RU")]
    Russia,
}

impl Country {
    /// From an ISO 3166 alpha-2 or alpha-3 code, any case; `None` for other countries.
    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "KZ" | "KAZ" => Some(Self::Kazakhstan),
            "BY" | "BLR" => Some(Self::Belarus),
            "LV" | "LVA" => Some(Self::Latvia),
            "RU" | "RUS" => Some(Self::Russia),
            _ => None,
        }
    }
}

/// A valid national personal number of one of the supported countries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NationalNumber {
    /// A Kazakhstan IIN.
    Iin(Iin),
    /// A Belarus personal identification number.
    By(ByPersonalNumber),
    /// A Latvian personal code.
    Lv(LvPersonalCode),
}

impl NationalNumber {
    fn parse(country: Country, text: &str) -> Option<Result<Self, Problem>> {
        Some(match country {
            Country::Kazakhstan => Iin::parse(text).map(Self::Iin).map_err(|e| e.problem()),
            Country::Belarus => ByPersonalNumber::parse(text)
                .map(Self::By)
                .map_err(|e| e.problem()),
            Country::Latvia => LvPersonalCode::parse(text)
                .map(Self::Lv)
                .map_err(|e| e.problem()),
            Country::Russia => return None,
        })
    }

    /// The birth date the number encodes; `None` for a Latvian code of the 2017 form.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Iin(iin) => Some(iin.birth_date()),
            Self::By(number) => Some(number.birth_date()),
            Self::Lv(code) => code.birth_date(),
        }
    }

    /// The sex the number encodes; `None` for Latvian codes, which do not encode it.
    pub fn sex(&self) -> Option<Sex> {
        match self {
            Self::Iin(iin) => Some(iin.sex()),
            Self::By(number) => Some(number.sex()),
            Self::Lv(_) => None,
        }
    }

    /// The full number. Do not log it; use [`NationalNumber::masked`].
    pub fn as_str(&self) -> &str {
        match self {
            Self::Iin(iin) => iin.as_str(),
            Self::By(number) => number.as_str(),
            Self::Lv(code) => code.as_str(),
        }
    }

    /// The number masked for display and logs.
    pub fn masked(&self) -> String {
        mask_document_number(self.as_str())
    }

    /// `iin`, `by_personal_number` or `lv_personal_code`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Iin(_) => "iin",
            Self::By(_) => "by_personal_number",
            Self::Lv(_) => "lv_personal_code",
        }
    }
}

/// The verdict: `valid` when no problem was found, the problems, and what was read.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// True when no problem was found.
    pub valid: bool,
    /// Every problem found.
    pub problems: Vec<Problem>,
    /// The MRZ, when given and valid.
    pub mrz: Option<Mrz>,
    /// The supported country, from the code given or else the MRZ's issuing state.
    pub country: Option<Country>,
    /// The valid national personal number, as given or else as found in the MRZ optional data.
    pub national_number: Option<NationalNumber>,
    /// The Russian internal passport series and number, when typed for Russia without an MRZ and of
    /// the right shape.
    pub ru_passport: Option<RuPassport>,
    /// How the holder's name (from the MRZ, else as typed) agrees with the expected name, when both
    /// are known.
    pub name_match: Option<NameMatch>,
    /// What the uploaded file is, when given and acceptable.
    pub file: Option<FileInfo>,
}

impl CheckReport {
    /// The document number (from the MRZ, else as typed), masked for display and logs.
    pub fn masked_number(&self) -> Option<String> {
        self.mrz
            .as_ref()
            .map(|mrz| mrz.document_number.masked())
            .or_else(|| self.ru_passport.as_ref().map(RuPassport::masked))
    }
}

/// Runs every check that the given input allows and reports all problems found.
pub fn check(input: &DocumentInput, expect: &Expectation) -> CheckReport {
    let mut problems = Vec::new();

    let file = input
        .file
        .as_deref()
        .and_then(|data| match file::inspect(data) {
            Ok(info) => Some(info),
            Err(found) => {
                problems.extend(found);
                None
            }
        });

    let mrz = input
        .mrz
        .as_deref()
        .and_then(|text| match mrz::parse(text) {
            Ok(mrz) => Some(mrz),
            Err(rejected) => {
                problems.extend(rejected.problems());
                None
            }
        });

    let country = input
        .country
        .as_deref()
        .or(mrz.as_ref().map(|m| m.issuing_state.as_str()))
        .and_then(Country::from_code);

    let national_number = national_number(input, mrz.as_ref(), country, &mut problems);

    let ru_passport = match (&input.document_number, &mrz, country) {
        (Some(number), None, Some(Country::Russia)) => match RuPassport::parse(number) {
            Ok(passport) => Some(passport),
            Err(error) => {
                problems.push(error.problem());
                None
            }
        },
        _ => None,
    };

    if let (Some(typed), Some(mrz)) = (&input.document_number, &mrz) {
        let typed_compact: String = typed
            .chars()
            .filter(|c| !(c.is_whitespace() || *c == '<'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if typed_compact != mrz.document_number.as_str() {
            problems.push(Problem::new(
                ProblemCode::DocumentNumberMismatch,
                "document_number",
                format!(
                    "The document number given ({}) differs from the one in the machine-readable zone ({}).",
                    mask_document_number(&typed_compact),
                    mrz.document_number.masked()
                ),
            ));
        }
    }

    let document = document_word(mrz.as_ref(), country);
    check_expiry(input, mrz.as_ref(), expect, document, &mut problems);
    check_birth_dates(input, mrz.as_ref(), national_number.as_ref(), &mut problems);
    if let (Some(mrz), Some(national)) = (&mrz, &national_number)
        && let Some(sex) = national.sex()
        && mrz.sex != Sex::Unspecified
        && mrz.sex != sex
    {
        problems.push(Problem::new(
            ProblemCode::SexMismatch,
            "sex",
            "The sex in the machine-readable zone differs from the one the personal number encodes.",
        ));
    }

    let name_match = check_names(input, mrz.as_ref(), expect, document, &mut problems);

    CheckReport {
        valid: problems.is_empty(),
        problems,
        mrz,
        country,
        national_number,
        ru_passport,
        name_match,
        file,
    }
}

/// The personal number as given, else as printed in the MRZ optional data; a number in
/// both must be the same.
fn national_number(
    input: &DocumentInput,
    mrz: Option<&Mrz>,
    country: Option<Country>,
    problems: &mut Vec<Problem>,
) -> Option<NationalNumber> {
    let country = country?;
    // Optional data may hold other things; it only counts when it parses.
    let from_mrz = mrz
        .map(|m| m.optional_data.replace(' ', ""))
        .filter(|data| !data.is_empty())
        .and_then(|data| NationalNumber::parse(country, &data))
        .and_then(Result::ok);
    let Some(typed) = &input.personal_number else {
        return from_mrz;
    };
    match NationalNumber::parse(country, typed)? {
        Err(problem) => {
            problems.push(problem);
            None
        }
        Ok(number) => {
            if let Some(printed) = from_mrz
                && printed.as_str() != number.as_str()
            {
                problems.push(Problem::new(
                    ProblemCode::PersonalNumberMismatch,
                    "personal_number",
                    format!(
                        "The personal number given ({}) differs from the one in the machine-readable zone ({}).",
                        number.masked(),
                        printed.masked()
                    ),
                ));
            }
            Some(number)
        }
    }
}

fn document_word(mrz: Option<&Mrz>, country: Option<Country>) -> &'static str {
    match (mrz.map(|m| m.format), country) {
        (Some(MrzFormat::Td3), _) | (None, Some(Country::Russia)) => "passport",
        (Some(MrzFormat::Td1 | MrzFormat::Td2), _) => "ID card",
        (None, _) => "document",
    }
}

fn check_expiry(
    input: &DocumentInput,
    mrz: Option<&Mrz>,
    expect: &Expectation,
    document: &str,
    problems: &mut Vec<Problem>,
) {
    let printed = mrz.map(|m| m.expiry_date);
    if let (Some(printed), Some(typed)) = (printed, input.expires_on)
        && printed != typed
    {
        problems.push(Problem::new(
            ProblemCode::ExpiryDateMismatch,
            "expires_on",
            format!(
                "The expiry date given ({typed}) differs from the one in the machine-readable zone ({printed})."
            ),
        ));
    }
    let (Some(expiry), Some(on)) = (printed.or(input.expires_on), expect.on) else {
        return;
    };
    if expiry < on {
        problems.push(Problem::new(
            ProblemCode::DocumentExpired,
            if printed.is_some() {
                "expiry_date"
            } else {
                "expires_on"
            },
            format!("The {document} expired on {expiry}, before the application date {on}."),
        ));
    }
}

fn check_birth_dates(
    input: &DocumentInput,
    mrz: Option<&Mrz>,
    national: Option<&NationalNumber>,
    problems: &mut Vec<Problem>,
) {
    // The MRZ has a two-digit year: compare it on year-within-century, month and day.
    let short = |d: NaiveDate| (d.year().rem_euclid(100), d.month(), d.day());
    let mut sources: Vec<(&str, NaiveDate, bool)> = Vec::new();
    if let Some(mrz) = mrz {
        sources.push(("the machine-readable zone", mrz.birth_date, true));
    }
    if let Some(date) = national.and_then(NationalNumber::birth_date) {
        sources.push(("the personal number", date, false));
    }
    if let Some(date) = input.birth_date {
        sources.push(("the birth date given", date, false));
    }
    for (i, &(first, first_date, first_short)) in sources.iter().enumerate() {
        for &(second, second_date, second_short) in &sources[i + 1..] {
            let agree = if first_short || second_short {
                short(first_date) == short(second_date)
            } else {
                first_date == second_date
            };
            if !agree {
                let show = |date: NaiveDate, two_digit_year: bool| {
                    if two_digit_year {
                        date.format("%y-%m-%d (YY-MM-DD)").to_string()
                    } else {
                        date.to_string()
                    }
                };
                problems.push(Problem::new(
                    ProblemCode::BirthDateMismatch,
                    "birth_date",
                    format!(
                        "The birth date in {first} ({}) differs from {second} ({}).",
                        show(first_date, first_short),
                        show(second_date, second_short)
                    ),
                ));
            }
        }
    }
}

fn check_names(
    input: &DocumentInput,
    mrz: Option<&Mrz>,
    expect: &Expectation,
    document: &str,
    problems: &mut Vec<Problem>,
) -> Option<NameMatch> {
    let printed = mrz.map(Mrz::full_name);
    if let (Some(printed), Some(typed)) = (&printed, &input.holder_name) {
        let agreement = match_names(typed, printed);
        if !agreement.matched {
            problems.push(Problem::new(
                ProblemCode::HolderNameMismatch,
                "holder_name",
                format!(
                    "The holder's name given ({typed}) differs from the name in the machine-readable zone ({printed})."
                ),
            ));
        }
    }
    let holder = printed.or_else(|| input.holder_name.clone())?;
    let expected = expect.name.as_deref()?;
    let result = match_names(expected, &holder);
    if !result.matched {
        problems.push(Problem::new(
            ProblemCode::NameMismatch,
            "holder_name",
            format!(
                "The name on the {document} ({holder}) does not match the name of the payer or customer ({expected}): similarity {:.2}, at least {NAME_MATCH_THRESHOLD:.2} is needed.",
                result.score
            ),
        ));
    }
    Some(result)
}

/// The JSON shape of a report (API answers, `refundd check-document`): numbers masked.
#[derive(Serialize)]
struct ReportView<'a> {
    valid: bool,
    problems: &'a [Problem],
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<Country>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mrz: Option<MrzView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    personal_number: Option<NationalNumberView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name_match: Option<NameMatchView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a FileInfo>,
}

#[derive(Serialize)]
struct MrzView<'a> {
    format: MrzFormat,
    document_code: &'a str,
    issuing_state: &'a str,
    surname: &'a str,
    given_names: &'a str,
    masked_number: String,
    nationality: &'a str,
    birth_date: NaiveDate,
    sex: Sex,
    expiry_date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked_optional_data: Option<String>,
}

#[derive(Serialize)]
struct NationalNumberView {
    kind: &'static str,
    masked_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sex: Option<Sex>,
}

#[derive(Serialize)]
struct NameMatchView {
    score: f64,
    matched: bool,
    threshold: f64,
}

impl Serialize for CheckReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ReportView {
            valid: self.valid,
            problems: &self.problems,
            masked_number: self.masked_number(),
            country: self.country,
            mrz: self.mrz.as_ref().map(|mrz| MrzView {
                format: mrz.format,
                document_code: &mrz.document_code,
                issuing_state: &mrz.issuing_state,
                surname: &mrz.surname,
                given_names: &mrz.given_names,
                masked_number: mrz.document_number.masked(),
                nationality: &mrz.nationality,
                birth_date: mrz.birth_date,
                sex: mrz.sex,
                expiry_date: mrz.expiry_date,
                masked_optional_data: (!mrz.optional_data.is_empty())
                    .then(|| mask_document_number(&mrz.optional_data)),
            }),
            personal_number: self
                .national_number
                .as_ref()
                .map(|number| NationalNumberView {
                    kind: number.kind(),
                    masked_number: number.masked(),
                    birth_date: number.birth_date(),
                    sex: number.sex(),
                }),
            name_match: self.name_match.map(|m| NameMatchView {
                score: m.score,
                matched: m.matched,
                threshold: NAME_MATCH_THRESHOLD,
            }),
            file: self.file.as_ref(),
        }
        .serialize(serializer)
    }
}
