//! What an emailed file probably is, from its name: a signed refund application, a payment
//! receipt, or an identity document. Customers name scans the way they think of them
//! (`заявление.pdf`, `iesniegums.jpg`, `чек.png`, `passport.jpg`); anything else stays a plain
//! email attachment for a person to look at.
//!
//! An application or a receipt is a document of that kind at once: the policy only needs the
//! file. An identity document is not: its number, dates and name must be read off the scan
//! (we do no OCR), so it stays an `email_attachment` with `suggested_kind` set, and a person
//! uploads it with its fields.

/// The document kind an attachment called `filename` is, when its name says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentKind {
    /// A signed refund application (`заявление`, `iesniegums`, `application`).
    RefundApplication,
    /// A payment receipt (`чек`, `kvīts`, `receipt`).
    PaymentReceipt,
    /// An identity document (`passport`); a person still has to read its fields.
    IdentityDocument,
}

impl AttachmentKind {
    /// The document kind's name, as stored in a document's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::RefundApplication => "refund_application",
            AttachmentKind::PaymentReceipt => "payment_receipt",
            AttachmentKind::IdentityDocument => "identity_document",
        }
    }

    /// Whether a stored document of this kind is complete with the file alone.
    pub fn file_is_enough(self) -> bool {
        !matches!(self, AttachmentKind::IdentityDocument)
    }
}

/// Words (lower-case) that name each kind in Russian, Kazakh, Latvian and English, with the
/// common transliterations.
const WORDS: [(AttachmentKind, &[&str]); 3] = [
    (
        AttachmentKind::RefundApplication,
        &[
            "заявлен",
            "өтініш",
            "отініш",
            "iesniegum",
            "pieteikum",
            "application",
            "zayavlen",
            "zajavlen",
        ],
    ),
    (
        AttachmentKind::PaymentReceipt,
        &[
            "чек",
            "квитанц",
            "түбіртек",
            "kvīt",
            "kvit",
            "čeks",
            "ceks",
            "receipt",
            "chek",
        ],
    ),
    (
        AttachmentKind::IdentityDocument,
        &[
            "паспорт",
            "удостоверен",
            "куәлік",
            "куалик",
            "pase",
            "personas apliec",
            "id-kart",
            "idkart",
            "id_kart",
            "passport",
            "id-card",
            "idcard",
            "id_card",
            "id card",
            "pasport",
            "udostoveren",
        ],
    ),
];

/// The kind the file name names; `None` when it names none or more than one.
pub fn attachment_kind(filename: Option<&str>) -> Option<AttachmentKind> {
    let name = filename?.to_lowercase();
    let found: Vec<AttachmentKind> = WORDS
        .iter()
        .filter(|(_, words)| words.iter().any(|w| name.contains(w)))
        .map(|(kind, _)| *kind)
        .collect();
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AttachmentKind::*;

    #[test]
    fn names_in_every_language_say_what_a_scan_is() {
        for (name, kind) in [
            ("Заявление на возврат.pdf", RefundApplication),
            ("өтініш.jpg", RefundApplication),
            ("Iesniegums_atmaksa.PDF", RefundApplication),
            ("refund application (signed).png", RefundApplication),
            ("zayavlenie.jpg", RefundApplication),
            ("чек_2904418001.jpg", PaymentReceipt),
            ("Kvīts.pdf", PaymentReceipt),
            ("receipt.png", PaymentReceipt),
            ("Түбіртек.png", PaymentReceipt),
            ("Паспорт.jpg", IdentityDocument),
            ("жеке куәлік.jpg", IdentityDocument),
            ("passport scan.jpeg", IdentityDocument),
            ("ID-card front.png", IdentityDocument),
            ("Pase.pdf", IdentityDocument),
        ] {
            assert_eq!(attachment_kind(Some(name)), Some(kind), "{name}");
        }
    }

    #[test]
    fn other_or_ambiguous_names_are_left_to_a_person() {
        for name in [
            "IMG_2041.jpg",
            "scan.pdf",
            "document.png",
            "чек и паспорт.pdf",
        ] {
            assert_eq!(attachment_kind(Some(name)), None, "{name}");
        }
        assert_eq!(attachment_kind(None), None);
    }

    #[test]
    fn only_applications_and_receipts_are_complete_as_files() {
        assert!(RefundApplication.file_is_enough());
        assert!(PaymentReceipt.file_is_enough());
        assert!(!IdentityDocument.file_is_enough());
    }
}
