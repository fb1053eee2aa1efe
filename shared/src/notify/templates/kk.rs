//! Kazakh wording of every customer email.

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
    closing: "Құрметпен,",
};

/// A Kazakh noun after a numeral stays singular: «1 жұмыс күні», «10 жұмыс күні».
const WORKING_DAYS: PluralForms<'static> = PluralForms::OneOther {
    one: "жұмыс күні",
    other: "жұмыс күні",
};

fn greeting(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Сәлеметсіз бе, {name}!"),
        None => "Сәлеметсіз бе!".to_owned(),
    }
}

fn subject(event: Event) -> &'static str {
    match event {
        Event::Received => "ақшаны қайтару туралы өтініш қабылданды",
        Event::NeedsInfo => "қосымша мәліметтер қажет",
        Event::Approved => "ақшаны қайтару мақұлданды",
        Event::AwaitingConfirmation => "өтініш растауды күтуде",
        Event::Rejected => "ақшаны қайтарудан бас тартылды",
        Event::Refunded => "ақша қайтарылды",
        Event::PayoutDelayed => "ақшаны қайтару кешігуде",
        Event::RefundReversed => "ақшаны қайтару өтпеді",
        Event::BankDetailsNeeded => "банк деректемелері қажет",
        Event::Withdrawn => "өтініш кері шақырылып алынды",
    }
}

fn footer(tag: &str) -> String {
    format!(
        "Өтініш нөмірі: {tag}. Бізге жазсаңыз, осы хатқа тақырыбын өзгертпей жауап беріңіз — \
         сонда жауабыңыз бірден өтінішке тіркеледі."
    )
}

fn body(v: &View<'_>) -> Vec<Block> {
    let p = |text: String| Block::Paragraph(text);
    let due = v.due_date().map(|d| ("Қайтарудың соңғы мерзімі", d));
    let mut blocks = Vec::new();
    match v.ctx.event {
        Event::Received => {
            blocks.push(p(format!(
                "Ақшаны қайтару туралы өтінішіңізді алдық және оны {} нөмірімен тіркедік.",
                v.tag
            )));
            blocks.push(p(
                "Қазір өтінішті тексеріп жатырмыз. Шешім қабылдағанда немесе бізге \
                           қосымша мәліметтер қажет болса, сізге хабарлаймыз."
                    .to_owned(),
            ));
        }
        Event::NeedsInfo => {
            let missing = v.missing();
            if missing.is_empty() {
                blocks.push(p(
                    "Өтінішіңізді қарау үшін бізге қосымша мәліметтер қажет. Осы \
                               хатқа жауап беріңіз — қызметкер нақты не қажет екенін айтады."
                        .to_owned(),
                ));
            } else {
                blocks.extend(v.missing_lists(
                    "Өтінішіңізді қарау үшін бізге мыналарды жіберіңіз немесе хабарлаңыз:",
                    "Жіберілген құжатты тексеріп, түзету қажет нәрселерді таптық:",
                    explain,
                ));
            }
            blocks.push(p(
                "Қалай жіберуге болады: осы хатқа жауап беріңіз. Мәліметтерді хаттың \
                           мәтінінде жазыңыз, ал құжаттарды JPEG, PNG немесе PDF форматындағы \
                           файл ретінде тіркеңіз."
                    .to_owned(),
            ));
            blocks.push(p(
                "Жауабыңызды күткен уақытта өтінішті қарау мерзімі есептелмейді.".to_owned(),
            ));
        }
        Event::Approved => {
            blocks.push(p(
                "Өтінішіңізді қарап, ақшаны қайтаруды мақұлдадық.".to_owned()
            ));
            blocks.extend(v.amount_and_due("Қайтарылатын сома", due));
            blocks.extend(v.amount_reason(
                "Сома төленген сомадан аз — қайтару шарттарының тармағы бойынша:",
                "Есеп",
                calculation,
            ));
            blocks.push(p("Ақшаны жіберген кезде сізге хабарлаймыз.".to_owned()));
        }
        Event::AwaitingConfirmation => {
            blocks.push(p(
                "Өтінішіңізді тексердік: ол ақшаны қайтару шарттарына сәйкес келеді.".to_owned(),
            ));
            blocks.extend(v.amount_and_due("Қайтарылатын сома", None));
            blocks.push(p(format!(
                "{} шарттары бойынша ақшаны қайтаруды әкімші растауы тиіс — өтініш оған \
                 жіберілді. Қайтару расталған бойда сізге хабарлаймыз. Қазір сізден ештеңе \
                 талап етілмейді.",
                v.merchant
            )));
        }
        Event::Rejected => {
            blocks.push(p(
                "Өкінішке қарай, бұл өтініш бойынша ақшаны қайтара алмаймыз.".to_owned(),
            ));
            match v.clause() {
                Some(clause) => {
                    blocks.push(p(format!(
                        "Себебі — {} ақшаны қайтару шарттарының мына тармағы:",
                        v.merchant
                    )));
                    blocks.push(Block::Quote(clause.to_owned()));
                }
                None => blocks.push(p(format!(
                    "Өтініш {} ақшаны қайтару шарттарына сәйкес келмейді.",
                    v.merchant
                ))),
            }
            blocks.push(p(
                "Егер шешімді қате деп санасаңыз немесе оны өзгерте алатын \
                           құжаттарыңыз болса, осы хатқа жауап беріңіз — өтінішті қызметкер \
                           қарайды."
                    .to_owned(),
            ));
        }
        Event::Refunded => {
            let what = match v.amount() {
                Some(amount) => format!("{amount} сомасын"),
                None => "Ақшаны".to_owned(),
            };
            blocks.push(p(match v.channel() {
                Some(Channel::Card(card)) => {
                    format!("{what} {} картаңызға қайтардық.", card.masked())
                }
                Some(Channel::Bank(last4)) => format!(
                    "{what} банктік аударыммен нөмірі {last4} деп аяқталатын банк шотыңызға \
                     аудардық."
                ),
                None => format!("{what} қайтару үшін көрсетілген деректемелерге аудардық."),
            }));
            let (from, to) = BANK_DAYS;
            blocks.push(p(format!(
                "Әдетте банктер қайтарылған ақшаны {from}–{} ішінде есепке алады — мерзімі \
                 сіздің банкіңізге байланысты.",
                WORKING_DAYS.count(Language::Kk, to)
            )));
            blocks.push(p(
                "Егер осы уақыт ішінде ақша түспесе, осы хатқа жауап беріңіз — \
                           банкке көрсетуге болатын операция растамасын жібереміз."
                    .to_owned(),
            ));
        }
        Event::PayoutDelayed => {
            let what = match v.amount() {
                Some(amount) => format!("{amount} сомасын қайтару"),
                None => "Ақшаны қайтару".to_owned(),
            };
            blocks.push(p(format!(
                "{what} мақұлданды, бірақ аударым әлі өтпеді: төлем жүйесі операцияны \
                 растамады."
            )));
            blocks.push(p(
                "Қазір мұнымен біздің қызметкер айналысуда: біз қайтаруды қайта жібереміз \
                 немесе ақшаны аударыммен қайтару үшін сізден банк деректемелерін сұраймыз, \
                 және келесі қадам туралы сізге жазамыз. Оған дейін сізге ештеңе істеудің \
                 қажеті жоқ."
                    .to_owned(),
            ));
            if let Some((label, date)) = due {
                blocks.push(Block::Facts(vec![(label.to_owned(), date)]));
            }
        }
        Event::RefundReversed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!("{amount} сомасын қайтару картаңызға жіберілді, бірақ төлем жүйесі оның өтпегенін хабарлады."),
                None => "Ақшаны қайтару картаңызға жіберілді, бірақ төлем жүйесі оның өтпегенін хабарлады.".to_owned(),
            }));
            blocks.push(p("Қазір мұнымен біздің қызметкер айналысуда: біз қайтаруды қайта жібереміз немесе ақшаны аударыммен қайтару үшін сізден банк деректемелерін сұраймыз, және келесі қадам туралы сізге жазамыз. Оған дейін сізге ештеңе істеудің қажеті жоқ.".to_owned()));
        }
        Event::BankDetailsNeeded => {
            let what = match v.amount() {
                Some(amount) => format!("{amount} сомасын"),
                None => "ақшаны".to_owned(),
            };
            blocks.push(p(format!(
                "Ақшаны төлем жасаған картаңызға қайтару мүмкін емес, сондықтан {what} банктік \
                 шотыңызға аударамыз. Ол үшін мыналарды жіберіңіз:"
            )));
            blocks.push(Block::List(explain_all(&v.bank_details_items(), explain)));
            blocks.push(p(
                "Осы хатқа жауап беріп, деректемелерді хаттың мәтінінде жазыңыз. \
                           Карта нөмірін жіберудің қажеті жоқ: оны ешқашан электрондық \
                           поштамен жібермеңіз."
                    .to_owned(),
            ));
        }
        Event::Withdrawn => {
            blocks.push(p(format!(
                "Сіз ақшаны қайтару туралы {} нөмірлі өтінішіңізді кері шақырып алдыңыз. Біз \
                 оны жаптық, бұл өтініш бойынша ақша қайтарылмайды.",
                v.tag
            )));
            blocks.push(p(
                "Егер бұл қате болса немесе ойыңызды өзгертсеңіз, осы хатқа жауап \
                           беріңіз немесе жаңа өтініш беріңіз."
                    .to_owned(),
            ));
        }
    }
    blocks
}

const IDENTITY_COPY: &str = "жеке басты куәландыратын құжаттың көшірмесі (паспорт немесе жеке \
    куәлік): фотосуреті бар беттің фотосы, онда барлық жолдар, соның ішінде төменгі жағындағы \
    «<» таңбалары бар жолдар анық оқылуы керек";

/// One missing item in plain words, with what to send.
fn explain(item: &MissingItem) -> String {
    match item {
        MissingItem::Fact(fact) => match fact {
            FactName::OrderAccepted => "тапсырысыңыз орындауға қабылданды ма («иә» немесе \
                 «жоқ» деп жауап беріңіз)"
                .into(),
            FactName::AccessStartedAt => {
                "қызметке қол жеткізген күніңіз (мысалы, 2026 жылғы 2 наурыз)".into()
            }
            FactName::TermsViolated => "қызметті пайдалану кезінде шарт талаптары бұзылды ма \
                 («иә» немесе «жоқ»; егер иә болса, не болғанын сипаттаңыз)"
                .into(),
            FactName::ReasonText => "ақшаны қайтару себебі өз сөзіңізбен: сатып алудан немесе \
                 қызметтен неге бас тартатыныңыз туралы бірнеше сөйлем"
                .into(),
            FactName::ProgressPercent => {
                "курстың қанша бөлігін өткеніңіз (пайызбен): 0-ден 100-ге дейінгі сан".into()
            }
            FactName::GoodsReceivedAt => "тауарды алған күніңіз".into(),
            FactName::GoodsIntact => "тауардың тауарлық түрі мен қасиеттері сақталған ба: ол \
                 пайдаланылмаған, қаптамасы мен жапсырмалары орнында («иә» немесе «жоқ» деп \
                 жауап беріңіз)"
                .into(),
            FactName::ProofOfPurchase => "сатып алуды растайтын құжат: осы төлем көрсетілген \
                 кассалық чек, түбіртек немесе банк үзіндісі (фото немесе скан)"
                .into(),
            FactName::Personalized => "тауар сіз үшін арнайы, сіздің өлшеміңіз немесе \
                 тілегіңіз бойынша жасалды ма не өзгертілді ме («иә» немесе «жоқ» деп жауап \
                 беріңіз)"
                .into(),
            FactName::IdentityDocumentVerified => IDENTITY_COPY.into(),
            FactName::InvoicedAmount => "тапсырыс бойынша қорытынды шоттағы сома".into(),
            FactName::Balance => "сатушыдағы ішкі (аванстық) шотыңыздың қалдығы".into(),
            FactName::CardChanged => "төлем жасаған банк картаңыз әлі де сол ма, әлде ол \
                 ауыстырылды немесе жабылды ма"
                .into(),
            FactName::PaidByCredit => "сатып алуды банк арқылы несиеге немесе бөліп төлеу \
                 арқылы төледіңіз бе («иә» немесе «жоқ» деп жауап беріңіз)"
                .into(),
            FactName::BankDetails => "аударымға арналған банк деректемелері: алушының тегі, аты \
                 және әкесінің аты, шот нөмірі (IBAN), банктің атауы және оның коды (БСК немесе \
                 SWIFT)"
                .into(),
            FactName::ApprovedAt => "сатушы өтінішіңізді растаған күн".into(),
        },
        MissingItem::Document(document) => match document {
            DocumentKind::RefundApplication => "толтырылған және қол қойылған ақшаны қайтару \
                 туралы өтініш (фото немесе скан)"
                .into(),
            DocumentKind::IdentityDocument => IDENTITY_COPY.into(),
            DocumentKind::PaymentReceipt => {
                "осы төлем көрсетілген чек немесе банк үзіндісі (фото немесе скан)".into()
            }
        },
        MissingItem::Problem(problem) => match problem {
            ProblemCode::MrzLayout
            | ProblemCode::MrzCheckDigit
            | ProblemCode::MrzDate
            | ProblemCode::MrzNotFound
            | ProblemCode::MrzUnclear => {
                "құжаттың фотосынан машинамен оқылатын аймақты (беттің төменгі жағындағы «<» \
                 таңбалары бар жолдар) оқу мүмкін емес — бүкіл беттің жарқылсыз, жиектері \
                 кесілмеген анығырақ фотосын жіберіңіз"
                    .into()
            }
            ProblemCode::IinControlDigit
            | ProblemCode::IinBirthDate
            | ProblemCode::IinCenturyDigit => "ЖСН-де қате бар — құжат бойынша барлық 12 \
                 цифрды тексеріп, ЖСН-ді қайта жазыңыз"
                .into(),
            ProblemCode::PersonalNumberFormat
            | ProblemCode::PersonalNumberCheck
            | ProblemCode::PersonalNumberBirthDate => "жеке (сәйкестендіру) нөмірде қате бар — \
                 оны құжат бойынша тексеріп, қайта жазыңыз"
                .into(),
            ProblemCode::PersonalNumberMismatch => "сіз көрсеткен жеке нөмір құжаттағы \
                 нөмірмен сәйкес келмейді — оны тексеріп, қайта жазыңыз"
                .into(),
            ProblemCode::DocumentNumberFormat => "құжат нөмірі қате жазылған — сериясы мен \
                 нөмірін құжат бойынша тексеріңіз (РФ паспортында серия 4 цифрдан, нөмір 6 \
                 цифрдан тұрады)"
                .into(),
            ProblemCode::DocumentNumberMismatch => "сіз көрсеткен құжат нөмірі құжаттың \
                 өзіндегі нөмірмен сәйкес келмейді — оны тексеріп, қайта жазыңыз"
                .into(),
            ProblemCode::DocumentExpired => "құжаттың қолданылу мерзімі өтіп кеткен — жарамды \
                 құжаттың көшірмесін жіберіңіз"
                .into(),
            ProblemCode::ExpiryDateMismatch => "сіз көрсеткен қолданылу мерзімі құжаттағы \
                 күнмен сәйкес келмейді — оны тексеріңіз"
                .into(),
            ProblemCode::BirthDateMismatch => "құжаттағы туған күн сіз көрсеткен күнмен сәйкес \
                 келмейді — оны тексеріп, қайта жазыңыз"
                .into(),
            ProblemCode::SexMismatch => "құжат деректері жеке нөмірмен сәйкес келмейді — жеке \
                 нөмірді құжат бойынша тексеріп, қайта жазыңыз"
                .into(),
            ProblemCode::NameMismatch => "құжаттағы есім төлеушінің есімімен сәйкес келмейді — \
                 төлем жасаған адамның құжатын жіберіңіз немесе кім төлегенін жазыңыз"
                .into(),
            ProblemCode::HolderNameMismatch => "сіз көрсеткен құжат иесінің есімі құжаттағы \
                 есіммен сәйкес келмейді — жазылуын құжат бойынша тексеріңіз"
                .into(),
            ProblemCode::FileEmpty => "құжат файлы бос келді — оны қайта тіркеңіз".into(),
            ProblemCode::FileTypeUnsupported => "құжат файлы біз қабылдамайтын форматта — \
                 JPEG, PNG немесе PDF жіберіңіз"
                .into(),
            ProblemCode::FileHeic => "құжаттың фотосы HEIC форматында (iPhone әдепкі бойынша \
                 осылай түсіреді) — оны JPEG форматында жіберіңіз: мысалы, фотоның скриншотын \
                 жасаңыз немесе камера баптауларында үйлесімді (JPEG) форматты таңдаңыз"
                .into(),
            ProblemCode::FileTooLarge => "құжат файлы тым үлкен — көлемі кішірек фото немесе \
                 скан жіберіңіз"
                .into(),
            ProblemCode::FileDamaged => {
                "құжат файлы зақымдалған және ашылмайды — оны қайта тіркеңіз".into()
            }
            ProblemCode::PdfEncrypted => {
                "құжат бар PDF құпиясөзбен қорғалған — құпиясөзсіз файл жіберіңіз".into()
            }
            ProblemCode::PdfTooManyPages => "құжат бар PDF файлында беттер тым көп — тек \
                 фотосуреті бар бетті жіберіңіз"
                .into(),
            ProblemCode::ImageTooSmall => "құжаттың суреті тым кішкентай, оны оқу мүмкін емес \
                 — ажыратымдылығы жоғарырақ фото жіберіңіз"
                .into(),
        },
        MissingItem::Other(name) => format!(
            "«{name}» мәліметтері — нақты не қажет екені түсініксіз болса, осы хатқа жауап \
             беріңіз, біз түсіндіреміз"
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
                "үлгерім".to_owned()
            } else {
                fact.clone()
            };
            format!(
                "{fact} {value}\u{a0}% → {} сомасының {percent}\u{a0}%-ы қайтарылады = {amount}",
                v.money(*paid)
            )
        }
        AmountReason::ProRata {
            paid,
            rendered,
            used_days,
            term_days,
        } => format!(
            "{} − {} пайдаланылған күндер үшін ({used_days}/{term_days} күн) = {amount}",
            v.money(*paid),
            v.money(*rendered)
        ),
        AmountReason::Deduction { paid, deducted } => {
            format!("{} − {} = {amount}", v.money(*paid), v.money(*deducted))
        }
        AmountReason::Fee { value, fee } => format!(
            "{} − комиссия {} = {amount}",
            v.money(*value),
            v.money(*fee)
        ),
    }
}
