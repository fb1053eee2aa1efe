//! The items a `needs_info` email asks for, recognised from the names the policy engine and
//! the identity checks use (`progress_percent`, `identity_document`, `mrz_check_digit`...).
//! Each language's templates explain every known item in plain words; an unknown name is
//! kept as it is and explained by a generic sentence naming it.

use crate::identity::ProblemCode;
use crate::policy::{DocumentKind, FactName};

/// One thing the customer must send or correct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MissingItem {
    /// A fact the policy needs (`progress_percent`, `bank_details`...).
    Fact(FactName),
    /// A document the policy needs (`identity_document`...).
    Document(DocumentKind),
    /// A problem the identity-document check found (`document_expired`...).
    Problem(ProblemCode),
    /// A name none of the above know; shown as it is.
    Other(String),
}

const DOCUMENTS: [DocumentKind; 3] = [
    DocumentKind::RefundApplication,
    DocumentKind::IdentityDocument,
    DocumentKind::PaymentReceipt,
];

/// Every identity problem code, so that each one's stable name can be recognised.
pub(crate) const PROBLEMS: [ProblemCode; 28] = [
    ProblemCode::MrzLayout,
    ProblemCode::MrzCheckDigit,
    ProblemCode::MrzDate,
    ProblemCode::MrzNotFound,
    ProblemCode::MrzUnclear,
    ProblemCode::IinControlDigit,
    ProblemCode::IinBirthDate,
    ProblemCode::IinCenturyDigit,
    ProblemCode::PersonalNumberFormat,
    ProblemCode::PersonalNumberCheck,
    ProblemCode::PersonalNumberBirthDate,
    ProblemCode::PersonalNumberMismatch,
    ProblemCode::DocumentNumberFormat,
    ProblemCode::DocumentNumberMismatch,
    ProblemCode::DocumentExpired,
    ProblemCode::ExpiryDateMismatch,
    ProblemCode::BirthDateMismatch,
    ProblemCode::SexMismatch,
    ProblemCode::NameMismatch,
    ProblemCode::HolderNameMismatch,
    ProblemCode::FileEmpty,
    ProblemCode::FileTypeUnsupported,
    ProblemCode::FileHeic,
    ProblemCode::FileTooLarge,
    ProblemCode::FileDamaged,
    ProblemCode::PdfEncrypted,
    ProblemCode::PdfTooManyPages,
    ProblemCode::ImageTooSmall,
];

impl MissingItem {
    /// The item a name stands for; never fails (unknown names become [`MissingItem::Other`]).
    pub fn from_name(name: &str) -> MissingItem {
        let name = name.trim();
        if let Some(fact) = FactName::ALL.iter().find(|f| f.name() == name) {
            return MissingItem::Fact(*fact);
        }
        if let Some(document) = DOCUMENTS.iter().find(|d| d.name() == name) {
            return MissingItem::Document(*document);
        }
        if let Some(problem) = PROBLEMS.iter().find(|p| p.as_str() == name) {
            return MissingItem::Problem(*problem);
        }
        MissingItem::Other(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_and_identity_name_is_known() {
        for fact in FactName::ALL {
            assert_eq!(
                MissingItem::from_name(fact.name()),
                MissingItem::Fact(*fact)
            );
        }
        for document in DOCUMENTS {
            assert_eq!(
                MissingItem::from_name(document.name()),
                MissingItem::Document(document)
            );
        }
        for problem in PROBLEMS {
            assert_eq!(
                MissingItem::from_name(problem.as_str()),
                MissingItem::Problem(problem)
            );
        }
        assert_eq!(
            MissingItem::from_name("loyalty_card"),
            MissingItem::Other("loyalty_card".into())
        );
    }
}
