//! Latvian wording of every customer email. The customer is addressed with the polite,
//! capitalised "Jūs", as Latvian business letters do.

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
    closing: "Ar cieņu,",
};

/// Genitive forms, as "… laikā" ("within …") needs: "21 darba dienas laikā" (singular for
/// CLDR `one`), "10 darba dienu laikā", "3 darba dienu laikā" (plural for `zero` and `other`).
const WORKING_DAYS_GENITIVE: PluralForms<'static> = PluralForms::Lv {
    zero: "darba dienu",
    one: "darba dienas",
    other: "darba dienu",
};

fn greeting(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Labdien, {name}!"),
        None => "Labdien!".to_owned(),
    }
}

fn subject(event: Event) -> &'static str {
    match event {
        Event::Received => "atmaksas pieteikums saņemts",
        Event::NeedsInfo => "vajadzīga papildu informācija",
        Event::Approved => "atmaksa apstiprināta",
        Event::AwaitingConfirmation => "pieteikums gaida apstiprinājumu",
        Event::Rejected => "atmaksa atteikta",
        Event::Refunded => "nauda atmaksāta",
        Event::PayoutDelayed => "atmaksa kavējas",
        Event::RefundReversed => "atmaksa neizdevās",
        Event::BankDetailsNeeded => "vajadzīgi bankas rekvizīti",
        Event::Withdrawn => "pieteikums atsaukts",
    }
}

fn footer(tag: &str) -> String {
    format!(
        "Pieteikuma numurs: {tag}. Ja rakstāt mums, lūdzu, atbildiet uz šo vēstuli, nemainot \
         tematu, — tad Jūsu atbilde uzreiz tiks pievienota pieteikumam."
    )
}

fn body(v: &View<'_>) -> Vec<Block> {
    let p = |text: String| Block::Paragraph(text);
    let due = v.due_date().map(|d| ("Atmaksas termiņš", d));
    let mut blocks = Vec::new();
    match v.ctx.event {
        Event::Received => {
            blocks.push(p(format!(
                "Esam saņēmuši Jūsu naudas atmaksas pieteikumu un reģistrējuši to ar numuru {}.",
                v.tag
            )));
            blocks.push(p(
                "Pašlaik to izskatām. Mēs Jums rakstīsim, tiklīdz būs pieņemts \
                           lēmums vai ja mums būs vajadzīga papildu informācija."
                    .to_owned(),
            ));
        }
        Event::NeedsInfo => {
            let missing = v.missing();
            if missing.is_empty() {
                blocks.push(p("Lai izskatītu Jūsu pieteikumu, mums vajadzīga papildu \
                               informācija. Lūdzu, atbildiet uz šo vēstuli — mūsu darbinieks \
                               paskaidros, kas tieši vajadzīgs."
                    .to_owned()));
            } else {
                blocks.extend(v.missing_lists(
                    "Lai izskatītu Jūsu pieteikumu, lūdzam norādīt vai atsūtīt:",
                    "Pārbaudījām atsūtīto dokumentu un atradām, kas jālabo:",
                    explain,
                ));
            }
            blocks.push(p(
                "Kā to izdarīt: atbildiet uz šo vēstuli. Informāciju ierakstiet \
                           vēstules tekstā, bet dokumentus pievienojiet kā failus JPEG, PNG \
                           vai PDF formātā."
                    .to_owned(),
            ));
            blocks.push(p(
                "Kamēr gaidām Jūsu atbildi, pieteikuma izskatīšanas termiņš netiek \
                           skaitīts."
                    .to_owned(),
            ));
        }
        Event::Approved => {
            blocks.push(p(
                "Esam izskatījuši Jūsu pieteikumu un apstiprinājuši atmaksu.".to_owned(),
            ));
            blocks.extend(v.amount_and_due("Atmaksājamā summa", due));
            blocks.extend(v.amount_reason(
                "Summa ir mazāka par samaksāto saskaņā ar atmaksas noteikumu punktu:",
                "Aprēķins",
                calculation,
            ));
            blocks.push(p("Kad nauda būs nosūtīta, mēs Jums paziņosim.".to_owned()));
        }
        Event::AwaitingConfirmation => {
            blocks.push(p(
                "Esam pārbaudījuši Jūsu pieteikumu: tas atbilst atmaksas noteikumiem.".to_owned(),
            ));
            blocks.extend(v.amount_and_due("Atmaksājamā summa", None));
            blocks.push(p(format!(
                "Saskaņā ar {} noteikumiem atmaksu apstiprina administrators, un pieteikums jau \
                 ir nodots viņam. Mēs Jums uzrakstīsim, tiklīdz atmaksa būs apstiprināta. \
                 Pašlaik no Jums nekas nav vajadzīgs.",
                v.merchant
            )));
        }
        Event::Rejected => {
            blocks.push(p(
                "Diemžēl naudu pēc šī pieteikuma atmaksāt nevaram.".to_owned()
            ));
            match v.clause() {
                Some(clause) => {
                    blocks.push(p(format!(
                        "Iemesls ir šāds {} atmaksas noteikumu punkts:",
                        v.merchant
                    )));
                    blocks.push(Block::Quote(clause.to_owned()));
                }
                None => blocks.push(p(format!(
                    "Pieteikums neatbilst {} atmaksas noteikumiem.",
                    v.merchant
                ))),
            }
            blocks.push(p(
                "Ja uzskatāt, ka lēmums ir kļūdains, vai Jums ir dokumenti, kas to \
                           varētu mainīt, atbildiet uz šo vēstuli — pieteikumu izskatīs mūsu \
                           darbinieks."
                    .to_owned(),
            ));
        }
        Event::Refunded => {
            let what = v.amount().unwrap_or_else(|| "naudu".to_owned());
            blocks.push(p(match v.channel() {
                Some(Channel::Card(card)) => {
                    format!("Esam atmaksājuši {what} uz Jūsu karti {}.", card.masked())
                }
                Some(Channel::Bank(last4)) => format!(
                    "Esam pārskaitījuši {what} ar bankas pārskaitījumu uz Jūsu kontu, kura \
                     numurs beidzas ar {last4}."
                ),
                None => format!("Esam pārskaitījuši {what} uz atmaksai norādīto kontu."),
            }));
            let (from, to) = BANK_DAYS;
            blocks.push(p(format!(
                "Parasti bankas atmaksu ieskaita {from}–{} laikā — tas atkarīgs no Jūsu bankas.",
                WORKING_DAYS_GENITIVE.count(Language::Lv, to)
            )));
            blocks.push(p(
                "Ja šajā laikā nauda nav ienākusi, atbildiet uz šo vēstuli — mēs \
                           atsūtīsim operācijas apstiprinājumu, ko varat uzrādīt bankai."
                    .to_owned(),
            ));
        }
        Event::PayoutDelayed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!(
                    "Atmaksa {amount} apmērā ir apstiprināta, taču pārskaitījums vēl nav \
                     izdevies: maksājumu sistēma operāciju neapstiprināja."
                ),
                None => "Atmaksa ir apstiprināta, taču pārskaitījums vēl nav izdevies: \
                         maksājumu sistēma operāciju neapstiprināja."
                    .to_owned(),
            }));
            blocks.push(p(
                "Ar to tagad nodarbojas mūsu darbinieks: mēs vai nu nosūtīsim atmaksu \
                 vēlreiz, vai lūgsim Jūsu bankas rekvizītus, lai atmaksātu ar pārskaitījumu, \
                 un rakstīsim Jums par nākamo soli. Līdz tam Jums nekas nav jādara."
                    .to_owned(),
            ));
            if let Some((label, date)) = due {
                blocks.push(Block::Facts(vec![(label.to_owned(), date)]));
            }
        }
        Event::RefundReversed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!("Mēs nosūtījām atmaksu {amount} apmērā uz Jūsu karti, taču maksājumu sistēma tagad paziņoja, ka tā neizdevās."),
                None => "Mēs nosūtījām atmaksu uz Jūsu karti, taču maksājumu sistēma tagad paziņoja, ka tā neizdevās.".to_owned(),
            }));
            blocks.push(p("Ar to tagad nodarbojas mūsu darbinieks: mēs vai nu nosūtīsim atmaksu vēlreiz, vai lūgsim Jūsu bankas rekvizītus, lai atmaksātu ar pārskaitījumu, un rakstīsim Jums par nākamo soli. Līdz tam Jums nekas nav jādara.".to_owned()));
        }
        Event::BankDetailsNeeded => {
            let what = v.amount().unwrap_or_else(|| "naudu".to_owned());
            blocks.push(p(format!(
                "Naudu nav iespējams atmaksāt uz karti, ar kuru maksājāt, tāpēc {what} \
                 pārskaitīsim uz Jūsu bankas kontu. Lūdzu, atsūtiet:"
            )));
            blocks.push(Block::List(explain_all(&v.bank_details_items(), explain)));
            blocks.push(p(
                "Atbildiet uz šo vēstuli un ierakstiet rekvizītus vēstules tekstā. \
                           Kartes numuru sūtīt nevajag: nekad nesūtiet to e-pastā."
                    .to_owned(),
            ));
        }
        Event::Withdrawn => {
            blocks.push(p(format!(
                "Jūs atsaucāt naudas atmaksas pieteikumu {}. Esam to slēguši, un nauda pēc tā \
                 netiks atmaksāta.",
                v.tag
            )));
            blocks.push(p(
                "Ja tā ir kļūda vai pārdomājat, atbildiet uz šo vēstuli vai \
                           iesniedziet jaunu pieteikumu."
                    .to_owned(),
            ));
        }
    }
    blocks
}

const IDENTITY_COPY: &str = "personu apliecinoša dokumenta (pases vai personas apliecības) \
    kopiju: foto ar lapu, kurā ir fotogrāfija un labi salasāmas visas rindas, arī rindas ar \
    simboliem „<“ lapas apakšā";

/// One missing item in plain words, with what to send (after "lūdzam norādīt vai atsūtīt:").
fn explain(item: &MissingItem) -> String {
    match item {
        MissingItem::Fact(fact) => match fact {
            FactName::OrderAccepted => {
                "vai Jūsu pasūtījums jau ir pieņemts izpildei (atbildiet „jā“ vai „nē“)".into()
            }
            FactName::AccessStartedAt => "datumu, kad saņēmāt piekļuvi pakalpojumam (piemēram, \
                 2026. gada 2. marts)"
                .into(),
            FactName::TermsViolated => "vai, lietojot pakalpojumu, tika pārkāpti līguma \
                 noteikumi (atbildiet „jā“ vai „nē“; ja „jā“, aprakstiet, kas notika)"
                .into(),
            FactName::ReasonText => "atmaksas iemeslu saviem vārdiem: dažos teikumos, kāpēc \
                 atsakāties no pirkuma vai pakalpojuma"
                .into(),
            FactName::ProgressPercent => {
                "apgūto kursa daļu procentos: skaitli no 0 līdz 100".into()
            }
            FactName::GoodsReceivedAt => "datumu, kad saņēmāt preci".into(),
            FactName::GoodsIntact => "vai prece ir saglabājusi preču izskatu un īpašības: tā \
                 nav lietota, iepakojums un etiķetes ir vietā (atbildiet „jā“ vai „nē“)"
                .into(),
            FactName::ProofOfPurchase => "pirkumu apliecinošu dokumentu: čeku, kvīti vai bankas \
                 konta izrakstu ar šo maksājumu (foto vai skenētu kopiju)"
                .into(),
            FactName::Personalized => "vai prece tika izgatavota vai pārveidota īpaši Jums, pēc \
                 Jūsu izmēriem vai vēlmēm (atbildiet „jā“ vai „nē“)"
                .into(),
            FactName::IdentityDocumentVerified => IDENTITY_COPY.into(),
            FactName::InvoicedAmount => "summu no pasūtījuma gala rēķina".into(),
            FactName::Balance => "atlikumu Jūsu iekšējā (avansa) kontā pie pārdevēja".into(),
            FactName::CardChanged => "vai Jums joprojām ir tā pati bankas karte, ar kuru \
                 maksājāt, vai arī tā ir nomainīta vai slēgta"
                .into(),
            FactName::PaidByCredit => "vai pirkumu apmaksājāt ar kredītu vai pa daļām caur \
                 banku (atbildiet „jā“ vai „nē“)"
                .into(),
            FactName::BankDetails => "bankas rekvizītus pārskaitījumam: saņēmēja vārdu un \
                 uzvārdu, konta numuru (IBAN), bankas nosaukumu un tās kodu (SWIFT/BIC)"
                .into(),
            FactName::ApprovedAt => "datumu, kad pārdevējs apstiprināja Jūsu pieteikumu".into(),
        },
        MissingItem::Document(document) => match document {
            DocumentKind::RefundApplication => "aizpildītu un parakstītu atmaksas pieteikumu \
                 (foto vai skenētu kopiju)"
                .into(),
            DocumentKind::IdentityDocument => IDENTITY_COPY.into(),
            DocumentKind::PaymentReceipt => "čeku vai bankas konta izrakstu, kurā redzams šis \
                 maksājums (foto vai skenētu kopiju)"
                .into(),
        },
        MissingItem::Problem(problem) => match problem {
            ProblemCode::MrzLayout
            | ProblemCode::MrzCheckDigit
            | ProblemCode::MrzDate
            | ProblemCode::MrzNotFound
            | ProblemCode::MrzUnclear => {
                "dokumenta fotoattēlā nevar nolasīt mašīnlasāmo zonu (rindas ar simboliem „<“ \
                 lapas apakšā) — lūdzu, atsūtiet skaidrāku visas lapas foto bez atspīduma un \
                 ar nenogrieztām malām"
                    .into()
            }
            ProblemCode::IinControlDigit
            | ProblemCode::IinBirthDate
            | ProblemCode::IinCenturyDigit => "IIN ir kļūda — pārbaudiet visus 12 ciparus pēc \
                 dokumenta un uzrakstiet IIN vēlreiz"
                .into(),
            ProblemCode::PersonalNumberFormat
            | ProblemCode::PersonalNumberCheck
            | ProblemCode::PersonalNumberBirthDate => "personas kodā ir kļūda — pārbaudiet to \
                 pēc dokumenta un uzrakstiet vēlreiz"
                .into(),
            ProblemCode::PersonalNumberMismatch => "norādītais personas kods nesakrīt ar kodu \
                 dokumentā — pārbaudiet to un uzrakstiet vēlreiz"
                .into(),
            ProblemCode::DocumentNumberFormat => "dokumenta numurs ir uzrakstīts nepareizi — \
                 pārbaudiet sēriju un numuru pēc dokumenta"
                .into(),
            ProblemCode::DocumentNumberMismatch => "norādītais dokumenta numurs nesakrīt ar \
                 numuru dokumentā — pārbaudiet to un uzrakstiet vēlreiz"
                .into(),
            ProblemCode::DocumentExpired => "dokumenta derīguma termiņš ir beidzies — atsūtiet \
                 derīga dokumenta kopiju"
                .into(),
            ProblemCode::ExpiryDateMismatch => "norādītais derīguma termiņš nesakrīt ar datumu \
                 dokumentā — pārbaudiet to"
                .into(),
            ProblemCode::BirthDateMismatch => "dzimšanas datums dokumentā nesakrīt ar norādīto \
                 — pārbaudiet to un uzrakstiet vēlreiz"
                .into(),
            ProblemCode::SexMismatch => "dokumenta dati nesaskan ar personas kodu — pārbaudiet \
                 personas kodu pēc dokumenta un uzrakstiet to vēlreiz"
                .into(),
            ProblemCode::NameMismatch => "vārds dokumentā nesakrīt ar maksātāja vārdu — \
                 atsūtiet tās personas dokumentu, kura apmaksāja pirkumu, vai uzrakstiet, kas \
                 maksāja"
                .into(),
            ProblemCode::HolderNameMismatch => "norādītais dokumenta īpašnieka vārds nesakrīt ar \
                 vārdu dokumentā — pārbaudiet rakstību pēc dokumenta"
                .into(),
            ProblemCode::FileEmpty => "dokumenta fails ir tukšs — pievienojiet to vēlreiz".into(),
            ProblemCode::FileTypeUnsupported => "dokumenta fails ir formātā, kuru nepieņemam, — \
                 atsūtiet JPEG, PNG vai PDF"
                .into(),
            ProblemCode::FileHeic => "dokumenta foto ir HEIC formātā (tā pēc noklusējuma \
                 fotografē iPhone) — atsūtiet to JPEG formātā: piemēram, uzņemiet fotoattēla \
                 ekrānuzņēmumu vai kameras iestatījumos izvēlieties saderīgāko (JPEG) formātu"
                .into(),
            ProblemCode::FileTooLarge => "dokumenta fails ir pārāk liels — atsūtiet mazāka \
                 izmēra foto vai skenētu kopiju"
                .into(),
            ProblemCode::FileDamaged => {
                "dokumenta fails ir bojāts un neatveras — pievienojiet to vēlreiz".into()
            }
            ProblemCode::PdfEncrypted => {
                "dokumenta PDF fails ir aizsargāts ar paroli — atsūtiet failu bez paroles".into()
            }
            ProblemCode::PdfTooManyPages => "dokumenta PDF failā ir pārāk daudz lapu — atsūtiet \
                 tikai lapu ar fotogrāfiju"
                .into(),
            ProblemCode::ImageTooSmall => "dokumenta attēls ir pārāk mazs, to nevar izlasīt — \
                 atsūtiet foto ar lielāku izšķirtspēju"
                .into(),
        },
        MissingItem::Other(name) => format!(
            "informāciju „{name}“ — ja nav skaidrs, kas tieši vajadzīgs, atbildiet uz šo \
             vēstuli, un mēs paskaidrosim"
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
                "{fact} {value}\u{a0}% → atmaksā {percent}\u{a0}% no {} = {amount}",
                v.money(*paid)
            )
        }
        AmountReason::ProRata {
            paid,
            rendered,
            used_days,
            term_days,
        } => format!(
            "{} − {} par izmantotajām dienām ({used_days} no {term_days}) = {amount}",
            v.money(*paid),
            v.money(*rendered)
        ),
        AmountReason::Deduction { paid, deducted } => {
            format!("{} − {} = {amount}", v.money(*paid), v.money(*deducted))
        }
        AmountReason::Fee { value, fee } => format!(
            "{} − komisija {} = {amount}",
            v.money(*value),
            v.money(*fee)
        ),
    }
}
