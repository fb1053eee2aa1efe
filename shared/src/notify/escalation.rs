//! Escalations to a merchant's support address ([`Escalation`]): a request whose SLA is at
//! risk (one working day or less left) or breached. Written for the merchant's staff, not the
//! customer: in English, followed by the merchant's default language when that is another
//! one, so whoever reads the support mailbox understands it.

use std::str::FromStr;

use chrono::NaiveDate;
use uuid::Uuid;

use super::document::{Block, Letter};
use super::event::Language;
use super::local::{format_date, format_money};
use super::templates::{RenderedEmail, request_tag};
use crate::money::Money;
use crate::names::Named;

/// What an escalation is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[strum(serialize_all = "snake_case")]
pub enum Escalation {
    /// One working day or less is left before the refund is due.
    SlaAtRisk,
    /// The refund is past its due date.
    SlaBreached,
}

impl Escalation {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Escalation] = <Escalation as strum::VariantArray>::VARIANTS;

    /// The stable name, as the sla role sends it to the notify stage (and in Message-IDs).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl FromStr for Escalation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Escalation::parse_named(s, "escalation")
    }
}

/// Everything an escalation shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationContext {
    /// Whether the SLA is at risk or already breached.
    pub escalation: Escalation,
    /// The merchant's default language; English is always written first.
    pub language: Language,
    /// The request escalated; the email names it by its tag.
    pub request_id: Uuid,
    /// The merchant's name, put in the subject.
    pub merchant_name: String,
    /// The request's lifecycle state (`approved`, `payout_failed`...).
    pub state: String,
    /// The refund amount, shown when known.
    pub amount: Option<Money>,
    /// The date the money must be back with the customer.
    pub due_date: NaiveDate,
}

/// The words of one language.
struct Wording {
    subject: fn(Escalation) -> &'static str,
    /// What happened and what to do, given the tag and the written-out due date.
    body: fn(Escalation, &str, &str) -> [String; 2],
    amount: &'static str,
    state: &'static str,
    footer: &'static str,
}

/// The escalation email: English, then the merchant's language (unless that is English).
pub fn render_escalation(ctx: &EscalationContext) -> RenderedEmail {
    let tag = request_tag(ctx.request_id);
    let mut languages = vec![Language::En];
    if ctx.language != Language::En {
        languages.push(ctx.language);
    }
    let mut blocks = Vec::new();
    for (i, language) in languages.iter().copied().enumerate() {
        if i > 0 {
            blocks.push(Block::Paragraph("* * *".to_owned()));
        }
        let wording = wording(language);
        let due = format_date(ctx.due_date, language);
        blocks.extend(
            (wording.body)(ctx.escalation, &tag, &due)
                .into_iter()
                .map(Block::Paragraph),
        );
        let mut facts = vec![(wording.state.to_owned(), ctx.state.clone())];
        if let Some(amount) = ctx.amount {
            facts.push((wording.amount.to_owned(), format_money(amount, language)));
        }
        blocks.push(Block::Facts(facts));
        blocks.push(Block::Note(wording.footer.to_owned()));
    }
    let subject = languages
        .iter()
        .map(|language| (wording(*language).subject)(ctx.escalation))
        .collect::<Vec<_>>()
        .join(" / ");
    let merchant = ctx
        .merchant_name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let letter = Letter {
        subject: format!("[{tag}] {merchant}: {subject}"),
        blocks,
    };
    RenderedEmail {
        language: Language::En,
        text: letter.text(),
        html: letter.html(Language::En),
        subject: letter.subject,
    }
}

fn wording(language: Language) -> &'static Wording {
    match language {
        Language::En => &EN,
        Language::Ru => &RU,
        Language::Kk => &KK,
        Language::Lv => &LV,
    }
}

const EN: Wording = Wording {
    subject: |e| match e {
        Escalation::SlaAtRisk => "SLA at risk",
        Escalation::SlaBreached => "SLA breached",
    },
    body: |e, tag, due| match e {
        Escalation::SlaAtRisk => [
            format!(
                "Refund request {tag} is at risk of missing its deadline: the money must be \
                 back with the customer by {due}, and one working day or less is left."
            ),
            "Please make sure it is handled today.".to_owned(),
        ],
        Escalation::SlaBreached => [
            format!(
                "Refund request {tag} has missed its deadline: the money was due back with the \
                 customer by {due}."
            ),
            "Please handle it first, and tell the customer when the money will arrive.".to_owned(),
        ],
    },
    amount: "Amount",
    state: "State",
    footer: "Sent automatically by the refund system to the merchant's support address.",
};

const RU: Wording = Wording {
    subject: |e| match e {
        Escalation::SlaAtRisk => "срок возврата под угрозой",
        Escalation::SlaBreached => "срок возврата нарушен",
    },
    body: |e, tag, due| match e {
        Escalation::SlaAtRisk => [
            format!(
                "Заявка {tag} может не уложиться в срок: деньги должны вернуться клиенту до \
                 {due}, остался один рабочий день или меньше."
            ),
            "Пожалуйста, займитесь ей сегодня.".to_owned(),
        ],
        Escalation::SlaBreached => [
            // The date ends with "г.", which also ends the sentence.
            format!("Срок по заявке {tag} нарушен: последний день возврата денег клиенту — {due}"),
            "Пожалуйста, займитесь ей в первую очередь и сообщите клиенту, когда придут \
             деньги."
                .to_owned(),
        ],
    },
    amount: "Сумма",
    state: "Статус",
    footer: "Письмо отправлено системой возвратов автоматически на адрес поддержки продавца.",
};

const KK: Wording = Wording {
    subject: |e| match e {
        Escalation::SlaAtRisk => "қайтару мерзімі қауіпте",
        Escalation::SlaBreached => "қайтару мерзімі бұзылды",
    },
    body: |e, tag, due| match e {
        Escalation::SlaAtRisk => [
            format!(
                "{tag} өтініші мерзімінен кешігуі мүмкін: ақша клиентке {due} дейін қайтарылуы \
                 тиіс, бір жұмыс күні немесе одан аз қалды."
            ),
            "Өтінішті бүгін қарастырыңыз.".to_owned(),
        ],
        Escalation::SlaBreached => [
            format!(
                "{tag} өтінішінің мерзімі бұзылды: ақша клиентке {due} дейін қайтарылуы тиіс еді."
            ),
            "Өтінішті бірінші кезекте қарастырып, клиентке ақша қашан түсетінін хабарлаңыз."
                .to_owned(),
        ],
    },
    amount: "Сома",
    state: "Күйі",
    footer: "Хатты қайтару жүйесі сатушының қолдау қызметінің мекенжайына автоматты түрде жіберді.",
};

const LV: Wording = Wording {
    subject: |e| match e {
        Escalation::SlaAtRisk => "atmaksas termiņš apdraudēts",
        Escalation::SlaBreached => "atmaksas termiņš nokavēts",
    },
    body: |e, tag, due| match e {
        Escalation::SlaAtRisk => [
            format!(
                "Pieteikumam {tag} draud nokavēt termiņu: naudai jābūt atpakaļ pie klienta līdz \
                 {due}, atlikusi viena darba diena vai mazāk."
            ),
            "Lūdzu, izskatiet to šodien.".to_owned(),
        ],
        Escalation::SlaBreached => [
            format!(
                "Pieteikuma {tag} termiņš ir nokavēts: naudai bija jābūt atpakaļ pie klienta \
                 līdz {due}."
            ),
            "Lūdzu, izskatiet to pirmām kārtām un paziņojiet klientam, kad nauda tiks \
             saņemta."
                .to_owned(),
        ],
    },
    amount: "Summa",
    state: "Statuss",
    footer: "Vēstuli automātiski nosūtīja atmaksu sistēma uz tirgotāja atbalsta adresi.",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn context(escalation: Escalation, language: Language) -> EscalationContext {
        EscalationContext {
            escalation,
            language,
            request_id: Uuid::parse_str("0196a3f2-7c1d-7b2e-9f00-123456789abc").unwrap(),
            merchant_name: "Online\nCourses".into(),
            state: "approved".into(),
            amount: Some(Money::parse("90.00", Currency::BYN).unwrap()),
            due_date: NaiveDate::from_ymd_opt(2026, 5, 5).unwrap(),
        }
    }

    #[test]
    fn english_first_then_the_merchants_language() {
        let email = render_escalation(&context(Escalation::SlaBreached, Language::Ru));
        assert_eq!(
            email.subject,
            "[RF-56789ABC] Online Courses: SLA breached / срок возврата нарушен"
        );
        let en = email.text.find("missed its deadline").unwrap();
        let ru = email
            .text
            .find("Срок по заявке RF-56789ABC нарушен")
            .unwrap();
        assert!(en < ru, "{}", email.text);
        assert!(email.text.contains("by 5 May 2026"));
        assert!(
            email.text.contains("клиенту — 5 мая 2026 г.\n"),
            "{}",
            email.text
        );
        assert!(
            email.text.contains("Amount: BYN\u{a0}90.00"),
            "{}",
            email.text
        );
        assert!(
            email.text.contains("Сумма: 90,00\u{a0}BYN"),
            "{}",
            email.text
        );
        assert!(email.text.contains("State: approved"));
        assert!(email.html.contains("<html lang=\"en\">"));
    }

    #[test]
    fn english_merchants_get_english_once() {
        let email = render_escalation(&context(Escalation::SlaAtRisk, Language::En));
        assert_eq!(email.subject, "[RF-56789ABC] Online Courses: SLA at risk");
        assert_eq!(email.text.matches("one working day or less").count(), 1);
    }

    #[test]
    fn every_language_names_the_tag_and_the_due_date() {
        for &language in Language::ALL {
            for &escalation in Escalation::ALL {
                let email = render_escalation(&context(escalation, language));
                let due = format_date(NaiveDate::from_ymd_opt(2026, 5, 5).unwrap(), language);
                assert!(email.text.contains(&due), "{escalation} {language}");
                assert_eq!(
                    email.text.matches("RF-56789ABC").count(),
                    if language == Language::En { 1 } else { 2 },
                    "{escalation} {language}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for &e in Escalation::ALL {
            assert_eq!(e.as_str().parse::<Escalation>(), Ok(e));
        }
        assert!("received".parse::<Escalation>().is_err());
    }
}
