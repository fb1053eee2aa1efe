//! Russian wording of every customer email.

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
    closing: "С уважением,",
};

const WORKING_DAYS: PluralForms<'static> = PluralForms::Ru {
    one: "рабочий день",
    few: "рабочих дня",
    many: "рабочих дней",
};

fn greeting(name: Option<&str>) -> String {
    match name {
        Some(name) => format!("Здравствуйте, {name}!"),
        None => "Здравствуйте!".to_owned(),
    }
}

fn subject(event: Event) -> &'static str {
    match event {
        Event::Received => "заявление на возврат получено",
        Event::NeedsInfo => "нужны дополнительные сведения",
        Event::Approved => "возврат одобрен",
        Event::AwaitingConfirmation => "заявление ожидает подтверждения",
        Event::Rejected => "в возврате отказано",
        Event::Refunded => "деньги возвращены",
        Event::PayoutDelayed => "возврат задерживается",
        Event::RefundReversed => "возврат не прошёл",
        Event::BankDetailsNeeded => "нужны банковские реквизиты",
        Event::Withdrawn => "заявление отозвано",
    }
}

fn footer(tag: &str) -> String {
    format!(
        "Номер заявления: {tag}. Если будете писать нам, отвечайте на это письмо, не меняя \
         тему, — так ваш ответ сразу попадёт к заявлению."
    )
}

fn body(v: &View<'_>) -> Vec<Block> {
    let p = |text: String| Block::Paragraph(text);
    let due = v
        .due_date()
        .map(|d| ("Срок возврата", format!("не позднее {d}")));
    let mut blocks = Vec::new();
    match v.ctx.event {
        Event::Received => {
            blocks.push(p(format!(
                "Мы получили ваше заявление на возврат денег и зарегистрировали его под \
                 номером {}.",
                v.tag
            )));
            blocks.push(p(
                "Сейчас мы его проверяем. Мы напишем вам, как только примем \
                           решение или если нам понадобятся дополнительные сведения."
                    .to_owned(),
            ));
        }
        Event::NeedsInfo => {
            let missing = v.missing();
            if missing.is_empty() {
                blocks.push(p(
                    "Чтобы рассмотреть ваше заявление, нам нужны дополнительные \
                               сведения. Ответьте, пожалуйста, на это письмо — сотрудник \
                               подскажет, что именно нужно."
                        .to_owned(),
                ));
            } else {
                blocks.extend(v.missing_lists(
                    "Чтобы рассмотреть ваше заявление, пришлите или сообщите нам, пожалуйста:",
                    "Мы проверили присланный документ и нашли, что нужно исправить:",
                    explain,
                ));
            }
            blocks.push(p(
                "Как отправить: ответьте на это письмо. Сведения напишите прямо в \
                           тексте письма, а документы приложите файлами в формате JPEG, PNG \
                           или PDF."
                    .to_owned(),
            ));
            blocks.push(p(
                "Пока мы ждём ваш ответ, срок рассмотрения заявления приостановлен.".to_owned(),
            ));
        }
        Event::Approved => {
            blocks.push(p(
                "Мы рассмотрели ваше заявление и одобрили возврат.".to_owned()
            ));
            blocks.extend(v.amount_and_due("Сумма к возврату", due));
            blocks.extend(v.amount_reason(
                "Сумма меньше оплаченной по пункту условий возврата:",
                "Расчёт",
                calculation,
            ));
            blocks.push(p("Мы напишем вам, когда отправим деньги.".to_owned()));
        }
        Event::AwaitingConfirmation => {
            blocks.push(p(
                "Мы проверили ваше заявление: оно соответствует условиям возврата.".to_owned(),
            ));
            blocks.extend(v.amount_and_due("Сумма к возврату", None));
            blocks.push(p(
                "Такие возвраты по правилам подтверждает администратор — заявление \
                           уже передано ему. Мы напишем вам, как только возврат будет \
                           подтверждён. От вас сейчас ничего не требуется."
                    .to_owned(),
            ));
        }
        Event::Rejected => {
            blocks.push(p(
                "К сожалению, мы не можем вернуть деньги по этому заявлению.".to_owned(),
            ));
            match v.clause() {
                Some(clause) => {
                    blocks.push(p("Причина — пункт условий возврата:".to_owned()));
                    blocks.push(Block::Quote(clause.to_owned()));
                }
                None => blocks.push(p("Заявление не соответствует условиям возврата.".to_owned())),
            }
            blocks.push(p(
                "Если вы считаете решение ошибочным или у вас есть документы, \
                           которые могут его изменить, ответьте на это письмо — заявление \
                           рассмотрит сотрудник."
                    .to_owned(),
            ));
        }
        Event::Refunded => {
            let what = v.amount().unwrap_or_else(|| "деньги".to_owned());
            blocks.push(p(match v.channel() {
                Some(Channel::Card(card)) => {
                    format!("Мы вернули {what} на карту {}.", card.masked())
                }
                Some(Channel::Bank(last4)) => format!(
                    "Мы отправили {what} банковским переводом на ваш счёт, номер которого \
                     оканчивается на {last4}."
                ),
                None => format!("Мы отправили {what} на реквизиты, указанные для возврата."),
            }));
            let (from, to) = BANK_DAYS;
            blocks.push(p(format!(
                "Обычно банки зачисляют возврат за {from}–{} — срок зависит от вашего банка.",
                WORKING_DAYS.count(Language::Ru, to)
            )));
            blocks.push(p(
                "Если за это время деньги не поступят, ответьте на это письмо — мы \
                           пришлём подтверждение операции, которое можно показать банку."
                    .to_owned(),
            ));
        }
        Event::PayoutDelayed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!(
                    "Возврат {amount} одобрен, но перевод пока не прошёл: платёжная система \
                     не подтвердила операцию."
                ),
                None => "Возврат одобрен, но перевод пока не прошёл: платёжная система не \
                         подтвердила операцию."
                    .to_owned(),
            }));
            blocks.push(p(
                "Сейчас этим занимается наш сотрудник: мы либо отправим возврат ещё раз, \
                 либо попросим у вас банковские реквизиты, чтобы вернуть деньги переводом, и \
                 напишем вам о следующем шаге. До тех пор делать ничего не нужно."
                    .to_owned(),
            ));
            if let Some((label, date)) = due {
                blocks.push(Block::Facts(vec![(label.to_owned(), date)]));
            }
        }
        Event::RefundReversed => {
            blocks.push(p(match v.amount() {
                Some(amount) => format!("Мы отправили возврат {amount} на вашу карту, но платёжная система сообщила, что он не прошёл."),
                None => "Мы отправили возврат на вашу карту, но платёжная система сообщила, что он не прошёл.".to_owned(),
            }));
            blocks.push(p("Сейчас этим занимается наш сотрудник: мы либо отправим возврат ещё раз, либо попросим у вас банковские реквизиты, чтобы вернуть деньги переводом, и напишем вам о следующем шаге. До тех пор делать ничего не нужно.".to_owned()));
        }
        Event::BankDetailsNeeded => {
            let what = v.amount().unwrap_or_else(|| "деньги".to_owned());
            blocks.push(p(format!(
                "Вернуть деньги на карту, с которой вы платили, не получится, поэтому мы \
                 переведём {what} на ваш банковский счёт. Для этого пришлите, пожалуйста:"
            )));
            blocks.push(Block::List(explain_all(&v.bank_details_items(), explain)));
            blocks.push(p(
                "Ответьте на это письмо и напишите реквизиты в тексте письма. \
                           Номер карты присылать не нужно: никогда не отправляйте его по \
                           почте."
                    .to_owned(),
            ));
        }
        Event::Withdrawn => {
            blocks.push(p(format!(
                "Вы отозвали заявление на возврат {}. Мы закрыли его, и деньги по нему \
                 возвращаться не будут.",
                v.tag
            )));
            blocks.push(p(
                "Если это ошибка или вы передумаете, ответьте на это письмо или \
                           подайте новое заявление."
                    .to_owned(),
            ));
        }
    }
    blocks
}

const IDENTITY_COPY: &str = "копию документа, удостоверяющего личность (паспорта или \
    удостоверения личности): фото страницы с фотографией, на котором читаются все строки, \
    включая строки с символами «<» внизу";

/// One missing item in plain words, with what to send.
fn explain(item: &MissingItem) -> String {
    match item {
        MissingItem::Fact(fact) => match fact {
            FactName::OrderAccepted => {
                "был ли ваш заказ уже принят в работу (ответьте «да» или «нет»)".into()
            }
            FactName::AccessStartedAt => {
                "дату, когда вы получили доступ к услуге (например, 2 марта 2026 г.)".into()
            }
            FactName::TermsViolated => {
                "нарушались ли при пользовании услугой условия договора (ответьте «да» или \
                 «нет»; если да — опишите, что произошло)"
                    .into()
            }
            FactName::ReasonText => "причину возврата своими словами: несколько предложений о \
                 том, почему вы отказываетесь от покупки или услуги"
                .into(),
            FactName::ProgressPercent => {
                "какую часть курса вы прошли (в процентах): число от 0 до 100".into()
            }
            FactName::GoodsReceivedAt => "дату, когда вы получили товар".into(),
            FactName::GoodsIntact => "сохранены ли товарный вид и свойства товара: им не \
                 пользовались, упаковка и ярлыки на месте (ответьте «да» или «нет»)"
                .into(),
            FactName::ProofOfPurchase => "подтверждение покупки: кассовый чек, квитанцию или \
                 выписку из банка с этим платежом (фото или скан)"
                .into(),
            FactName::Personalized => "был ли товар изготовлен или изменён специально для вас, \
                 по вашим меркам или пожеланиям (ответьте «да» или «нет»)"
                .into(),
            FactName::IdentityDocumentVerified => IDENTITY_COPY.into(),
            FactName::InvoicedAmount => "сумму из итогового счёта по заказу".into(),
            FactName::Balance => {
                "сумму остатка на вашем внутреннем (авансовом) счёте у продавца".into()
            }
            FactName::CardChanged => "та же ли у вас банковская карта, которой вы платили, или \
                 она заменена либо закрыта"
                .into(),
            FactName::PaidByCredit => "оплачивали ли вы покупку в кредит или в рассрочку через \
                 банк (ответьте «да» или «нет»)"
                .into(),
            FactName::BankDetails => "банковские реквизиты для перевода: фамилию, имя и \
                 отчество получателя, номер счёта (IBAN), название банка и его код (БИК или \
                 SWIFT)"
                .into(),
            FactName::ApprovedAt => "дату, когда продавец подтвердил ваше заявление".into(),
        },
        MissingItem::Document(document) => match document {
            DocumentKind::RefundApplication => {
                "заполненное и подписанное заявление на возврат (фото или скан)".into()
            }
            DocumentKind::IdentityDocument => IDENTITY_COPY.into(),
            DocumentKind::PaymentReceipt => {
                "чек или выписку из банка, где виден этот платёж (фото или скан)".into()
            }
        },
        MissingItem::Problem(problem) => match problem {
            ProblemCode::MrzLayout
            | ProblemCode::MrzCheckDigit
            | ProblemCode::MrzDate
            | ProblemCode::MrzNotFound
            | ProblemCode::MrzUnclear => {
                "на фото документа не удаётся прочитать машиночитаемую зону (строки с \
                 символами «<» внизу страницы) — пришлите, пожалуйста, более чёткое фото всей \
                 страницы, без бликов и обрезанных краёв"
                    .into()
            }
            ProblemCode::IinControlDigit
            | ProblemCode::IinBirthDate
            | ProblemCode::IinCenturyDigit => {
                "в ИИН ошибка — проверьте все 12 цифр по документу и напишите ИИН ещё раз".into()
            }
            ProblemCode::PersonalNumberFormat
            | ProblemCode::PersonalNumberCheck
            | ProblemCode::PersonalNumberBirthDate => "в личном (идентификационном) номере \
                 ошибка — проверьте его по документу и напишите ещё раз"
                .into(),
            ProblemCode::PersonalNumberMismatch => "личный номер, который вы указали, не \
                 совпадает с номером в документе — проверьте его и напишите ещё раз"
                .into(),
            ProblemCode::DocumentNumberFormat => "номер документа записан неверно — проверьте \
                 серию и номер по документу (у паспорта РФ это 4 цифры серии и 6 цифр номера)"
                .into(),
            ProblemCode::DocumentNumberMismatch => "номер документа, который вы указали, не \
                 совпадает с номером в самом документе — проверьте его и напишите ещё раз"
                .into(),
            ProblemCode::DocumentExpired => {
                "срок действия документа истёк — пришлите копию действующего документа".into()
            }
            ProblemCode::ExpiryDateMismatch => "срок действия, который вы указали, не \
                 совпадает с датой в документе — проверьте его"
                .into(),
            ProblemCode::BirthDateMismatch => "дата рождения в документе не совпадает с \
                 указанной — проверьте её и напишите ещё раз"
                .into(),
            ProblemCode::SexMismatch => "данные документа не согласуются с личным номером — \
                 проверьте личный номер по документу и напишите его ещё раз"
                .into(),
            ProblemCode::NameMismatch => "имя в документе не совпадает с именем плательщика — \
                 пришлите документ того, кто оплачивал покупку, или напишите, кто платил"
                .into(),
            ProblemCode::HolderNameMismatch => "имя владельца, которое вы указали, не совпадает \
                 с именем в документе — проверьте написание по документу"
                .into(),
            ProblemCode::FileEmpty => "файл документа пришёл пустым — приложите его ещё раз".into(),
            ProblemCode::FileTypeUnsupported => "файл документа в формате, который мы не \
                 принимаем, — пришлите JPEG, PNG или PDF"
                .into(),
            ProblemCode::FileHeic => "фото документа в формате HEIC (так по умолчанию снимает \
                 iPhone) — пришлите его в JPEG: например, сделайте снимок экрана с этой \
                 фотографией или выберите в настройках камеры формат «Наиболее совместимый»"
                .into(),
            ProblemCode::FileTooLarge => "файл документа слишком большой — пришлите фото или \
                 скан меньшего размера"
                .into(),
            ProblemCode::FileDamaged => {
                "файл документа повреждён и не открывается — приложите его ещё раз".into()
            }
            ProblemCode::PdfEncrypted => {
                "PDF с документом защищён паролем — пришлите файл без пароля".into()
            }
            ProblemCode::PdfTooManyPages => "в PDF с документом слишком много страниц — \
                 пришлите только страницу с фотографией"
                .into(),
            ProblemCode::ImageTooSmall => "изображение документа слишком маленькое, его не \
                 прочитать — пришлите фото в более высоком разрешении"
                .into(),
        },
        MissingItem::Other(name) => format!(
            "сведения «{name}» — если непонятно, что именно нужно, ответьте на это письмо, и \
             мы подскажем"
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
                "прогресс".to_owned()
            } else {
                fact.clone()
            };
            format!(
                "{fact} {value}\u{a0}% → возвращается {percent}\u{a0}% от {} = {amount}",
                v.money(*paid)
            )
        }
        AmountReason::ProRata {
            paid,
            rendered,
            used_days,
            term_days,
        } => format!(
            "{} − {} за использованные дни ({used_days} из {term_days}) = {amount}",
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
