//! English wording of every customer email (also the fallback for any other language).

use super::{AmountReason, BANK_DAYS, Block, Channel, View, Wording, explain_all};
use crate::identity::ProblemCode;
use crate::notify::event::{Event, Language};
use crate::notify::missing::MissingItem;
use crate::notify::plural::PluralForms;
use crate::policy::{DocumentKind, FactName};

pub(super) const WORDING: Wording = Wording {
    greeting,
    subject,
    body,
    footer,
    closing: "Kind regards,",
};

const WORKING_DAYS: PluralForms<'static> = PluralForms::OneOther {
    one: "working day",
    other: "working days",
};

fn greeting(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    }
}

fn subject(event: Event) -> &'static str {
    match event {
        Event::Received => "refund request received",
        Event::NeedsInfo => "more information needed",
        Event::Approved => "refund approved",
        Event::AwaitingConfirmation => "request awaiting confirmation",
        Event::Rejected => "refund declined",
        Event::Refunded => "refund sent",
        Event::PayoutDelayed => "refund delayed",
        Event::RefundReversed => "refund did not go through",
        Event::BankDetailsNeeded => "bank details needed",
        Event::Withdrawn => "request withdrawn",
    }
}

fn footer(tag: &str) -> String {
    format!(
        "Request number: {tag}. If you write to us, please reply to this email without changing \
         the subject line, so that your reply goes straight to your request."
    )
}

fn body(v: &View<'_>) -> Vec<Block> {
    let p = |text: String| Block::Paragraph(text);
    let due = v.due_date().map(|d| ("Refund due by", d));
    let mut blocks = Vec::new();
    match v.ctx.event {
        Event::Received => {
            blocks.push(p(format!(
                "We have received your refund request and registered it as {}.",
                v.tag
            )));
            blocks.push(p(
                "We are reviewing it now and will write to you as soon as we reach a \
                           decision, or if we need anything else from you."
                    .to_owned(),
            ));
        }
        Event::NeedsInfo => {
            let missing = v.missing();
            if missing.is_empty() {
                blocks.push(p(
                    "To review your request, we need some more information. Please \
                               reply to this email and a member of our team will tell you \
                               exactly what is needed."
                        .to_owned(),
                ));
            } else {
                blocks.extend(v.missing_lists(
                    "To review your request, please send or tell us:",
                    "We checked the document you sent, and the following needs correcting:",
                    explain,
                ));
            }
            blocks.push(p(
                "How to send it: reply to this email. Write the information in the \
                           body of your reply, and attach documents as JPEG, PNG or PDF files."
                    .to_owned(),
            ));
            blocks.push(p(
                "While we wait for your reply, the time limit for handling your \
                           request is on hold."
                    .to_owned(),
            ));
        }
        Event::Approved => {
            blocks.push(p(
                "We have reviewed your request and approved the refund.".to_owned()
            ));
            blocks.extend(v.amount_and_due("Amount to be refunded", due));
            blocks.extend(v.amount_reason(
                "The amount is less than you paid, under this clause of the refund terms:",
                "Calculation",
                calculation,
            ));
            blocks.push(p(
                "We will let you know when the money is on its way.".to_owned()
            ));
        }
        Event::AwaitingConfirmation => {
            blocks.push(p(
                "We have checked your request, and it meets the refund conditions.".to_owned(),
            ));
            blocks.extend(v.amount_and_due("Amount to be refunded", None));
            blocks.push(p(format!(
                "Under the {} refund policy, this refund has to be confirmed by an \
                 administrator, and your request is now with them. We will write to you as soon as the refund is \
                 confirmed. There is nothing you need to do right now.",
                v.merchant
            )));
        }
        Event::Rejected => {
            blocks.push(p(
                "Unfortunately, we are unable to make a refund on this request.".to_owned(),
            ));
            match v.clause() {
                Some(clause) => {
                    blocks.push(p(format!(
                        "The reason is the following term of the {} refund policy:",
                        v.merchant
                    )));
                    blocks.push(Block::Quote(clause.to_owned()));
                }
                None => blocks.push(p(format!(
                    "The request does not meet the {} refund policy.",
                    v.merchant
                ))),
            }
            blocks.push(p(
                "If you believe this decision is wrong, or you have documents that \
                           could change it, reply to this email and a member of our team will \
                           review your request."
                    .to_owned(),
            ));
        }
        Event::Refunded => {
            blocks.push(p(match (v.amount(), v.channel()) {
                (Some(amount), Some(Channel::Card(card))) => {
                    format!("We have refunded {amount} to your card {}.", card.masked())
                }
                (Some(amount), Some(Channel::Bank(last4))) => format!(
                    "We have sent {amount} by bank transfer to your account ending in {last4}."
                ),
                (None, Some(Channel::Bank(last4))) => format!(
                    "We have sent your refund by bank transfer to your account ending in \
                     {last4}."
                ),
                (None, Some(Channel::Card(card))) => {
                    format!(
                        "We have refunded your money to your card {}.",
                        card.masked()
                    )
                }
                (Some(amount), None) => {
                    format!("We have sent {amount} to the account you gave us for this refund.")
                }
                (None, None) => {
                    "We have sent your refund to the account you gave us for it.".to_owned()
                }
            }));
            let (from, to) = BANK_DAYS;
            blocks.push(p(format!(
                "Banks usually take {from}–{} to credit a refund, depending on your bank.",
                WORKING_DAYS.count(Language::En, to)
            )));
            blocks.push(p(
                "If the money has not arrived by then, reply to this email and we \
                           will send you a confirmation of the transaction that you can show \
                           your bank."
                    .to_owned(),
            ));
        }
        Event::PayoutDelayed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!(
                    "Your refund of {amount} is approved, but the transfer has not gone \
                     through yet: the payment system did not confirm it."
                ),
                None => "Your refund is approved, but the transfer has not gone through yet: \
                         the payment system did not confirm it."
                    .to_owned(),
            }));
            blocks.push(p(
                "A member of our team is looking at it now: we will either send the refund \
                 again or ask you for bank details to pay it by bank transfer, and we will \
                 write to you at the next step. Until then you do not need to do anything."
                    .to_owned(),
            ));
            if let Some((label, date)) = due {
                blocks.push(Block::Facts(vec![(label.to_owned(), date)]));
            }
        }
        Event::RefundReversed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!("We sent your refund of {amount} to your card, but the payment system has now told us that it did not go through."),
                None => "We sent your refund to your card, but the payment system has now told us that it did not go through.".to_owned(),
            }));
            blocks.push(p("A member of our team is looking at it now: we will either send the refund again or ask you for bank details to pay it by bank transfer, and we will write to you at the next step. Until then you do not need to do anything.".to_owned()));
        }
        Event::BankDetailsNeeded => {
            let what = v.amount().unwrap_or_else(|| "the money".to_owned());
            blocks.push(p(format!(
                "We cannot refund the card you paid with, so we will transfer {what} to your \
                 bank account instead. For that, please send us:"
            )));
            blocks.push(Block::List(explain_all(&v.bank_details_items(), explain)));
            blocks.push(p(
                "Reply to this email and write the details in the body of your \
                           reply. We do not need your card number: never send it by email."
                    .to_owned(),
            ));
        }
        Event::Withdrawn => {
            blocks.push(p(format!(
                "You have withdrawn refund request {}. We have closed it, and no refund will be \
                 made on it.",
                v.tag
            )));
            blocks.push(p(
                "If this is a mistake or you change your mind, reply to this email or \
                           submit a new request."
                    .to_owned(),
            ));
        }
    }
    blocks
}

const IDENTITY_COPY: &str = "a copy of your identity document (passport or ID card): a photo \
    of the page with your picture where every line can be read, including the lines of “<” \
    characters at the bottom";

/// One missing item in plain words, with what to send (after "we need:").
fn explain(item: &MissingItem) -> String {
    match item {
        MissingItem::Fact(fact) => match fact {
            FactName::OrderAccepted => "whether your order had already been accepted for \
                 fulfilment (please answer yes or no)"
                .into(),
            FactName::AccessStartedAt => {
                "the date you got access to the service (for example, 2 March 2026)".into()
            }
            FactName::TermsViolated => "whether the terms of the agreement were breached while \
                 you used the service (yes or no; if yes, please describe what happened)"
                .into(),
            FactName::ReasonText => "the reason for your refund in your own words: a few \
                 sentences on why you are cancelling the purchase or service"
                .into(),
            FactName::ProgressPercent => "how much of the course you have completed, as a \
                 percentage: a number from 0 to 100"
                .into(),
            FactName::GoodsReceivedAt => "the date you received the goods".into(),
            FactName::GoodsIntact => "whether the goods are in their original condition: \
                 unused, with packaging and labels in place (yes or no)"
                .into(),
            FactName::ProofOfPurchase => "proof of purchase: a receipt, invoice or bank \
                 statement showing this payment (photo or scan)"
                .into(),
            FactName::Personalized => "whether the item was made or altered especially for you, \
                 to your measurements or wishes (yes or no)"
                .into(),
            FactName::IdentityDocumentVerified => IDENTITY_COPY.into(),
            FactName::InvoicedAmount => "the amount on the final invoice for your order".into(),
            FactName::Balance => {
                "the balance of your internal (advance) account with the seller".into()
            }
            FactName::CardChanged => "whether you still have the bank card you paid with, or it \
                 has been replaced or closed"
                .into(),
            FactName::PaidByCredit => {
                "whether you paid on credit or in instalments through a bank (yes or no)".into()
            }
            FactName::BankDetails => "bank details for the transfer: the account holder's full \
                 name, the account number (IBAN), and the bank's name and code (SWIFT/BIC)"
                .into(),
            FactName::ApprovedAt => "the date the seller confirmed your request".into(),
        },
        MissingItem::Document(document) => match document {
            DocumentKind::RefundApplication => {
                "the refund application form, filled in and signed (photo or scan)".into()
            }
            DocumentKind::IdentityDocument => IDENTITY_COPY.into(),
            DocumentKind::PaymentReceipt => {
                "a receipt or bank statement showing this payment (photo or scan)".into()
            }
        },
        MissingItem::Problem(problem) => match problem {
            ProblemCode::MrzLayout
            | ProblemCode::MrzCheckDigit
            | ProblemCode::MrzDate
            | ProblemCode::MrzNotFound
            | ProblemCode::MrzUnclear => {
                "we cannot read the machine-readable zone of your document (the lines of “<” \
                 characters at the bottom of the page): please send a sharper photo of the \
                 whole page, without glare or cropped edges"
                    .into()
            }
            ProblemCode::IinControlDigit
            | ProblemCode::IinBirthDate
            | ProblemCode::IinCenturyDigit => "your IIN has a mistake in it: please check all 12 \
                 digits against your document and write it again"
                .into(),
            ProblemCode::PersonalNumberFormat
            | ProblemCode::PersonalNumberCheck
            | ProblemCode::PersonalNumberBirthDate => "your personal (identification) number has \
                 a mistake in it: please check it against your document and write it again"
                .into(),
            ProblemCode::PersonalNumberMismatch => "the personal number you gave does not match \
                 the one in your document: please check it and write it again"
                .into(),
            ProblemCode::DocumentNumberFormat => "the document number is not written correctly: \
                 please check the series and number against your document"
                .into(),
            ProblemCode::DocumentNumberMismatch => "the document number you gave does not match \
                 the one in the document: please check it and write it again"
                .into(),
            ProblemCode::DocumentExpired => {
                "your document has expired: please send a copy of a valid document".into()
            }
            ProblemCode::ExpiryDateMismatch => "the expiry date you gave does not match the one \
                 in your document: please check it"
                .into(),
            ProblemCode::BirthDateMismatch => "the date of birth in your document does not match \
                 the one you gave: please check it and write it again"
                .into(),
            ProblemCode::SexMismatch => "the details in your document do not agree with your \
                 personal number: please check the personal number against your document and \
                 write it again"
                .into(),
            ProblemCode::NameMismatch => "the name in the document does not match the name of \
                 the person who paid: please send the document of the person who paid, or tell \
                 us who paid"
                .into(),
            ProblemCode::HolderNameMismatch => "the holder's name you gave does not match the \
                 name in the document: please check the spelling against your document"
                .into(),
            ProblemCode::FileEmpty => {
                "the document file arrived empty: please attach it again".into()
            }
            ProblemCode::FileTypeUnsupported => "the document file is in a format we do not \
                 accept: please send a JPEG, PNG or PDF"
                .into(),
            ProblemCode::FileHeic => "the photo of your document is in HEIC format (the iPhone \
                 default): please send it as a JPEG, for example by taking a screenshot of the \
                 photo or choosing “Most Compatible” in the camera settings"
                .into(),
            ProblemCode::FileTooLarge => {
                "the document file is too large: please send a smaller photo or scan".into()
            }
            ProblemCode::FileDamaged => {
                "the document file is damaged and does not open: please attach it again".into()
            }
            ProblemCode::PdfEncrypted => "the PDF of your document is password-protected: please \
                 send it without a password"
                .into(),
            ProblemCode::PdfTooManyPages => "the PDF of your document has too many pages: please \
                 send only the page with your photo"
                .into(),
            ProblemCode::ImageTooSmall => "the image of your document is too small to read: \
                 please send a higher-resolution photo"
                .into(),
        },
        MissingItem::Other(name) => format!(
            "the information “{name}”: if it is not clear what is needed, reply to this email \
             and we will explain"
        ),
    }
}

/// The calculation line of a partial refund.
fn calculation(v: &View<'_>, reason: &AmountReason, amount: &str) -> String {
    match reason {
        AmountReason::Tier {
            fact,
            value,
            percent,
            paid,
        } => {
            let fact = if fact == "progress_percent" {
                "progress".to_owned()
            } else {
                fact.clone()
            };
            format!(
                "{value}\u{a0}% {fact} → {percent}\u{a0}% of {} = {amount}",
                v.money(*paid)
            )
        }
        AmountReason::ProRata {
            paid,
            rendered,
            used_days,
            term_days,
        } => format!(
            "{} − {} for the days used ({used_days} of {term_days}) = {amount}",
            v.money(*paid),
            v.money(*rendered)
        ),
        AmountReason::Deduction { paid, deducted } => {
            format!("{} − {} = {amount}", v.money(*paid), v.money(*deducted))
        }
        AmountReason::Fee { value, fee } => {
            format!("{} − fee {} = {amount}", v.money(*value), v.money(*fee))
        }
    }
}
