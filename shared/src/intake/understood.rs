//! "Here is what we understood": the part of the intake's answer that restates, in the
//! customer's language, what we read in an email we could not read with certainty, and asks
//! them to confirm or correct it (the reason, and the facts the merchant's policy needs). Such
//! an application is never paid on our reading alone: a person decides, with the reply.

use super::language::Language;
use crate::policy::{FactName, Reason};

/// The paragraph for an uncertain reading: the reason we think the customer meant (if any),
/// the words that made us think so, and what to reply with.
pub fn understood(
    language: Language,
    reason: Option<Reason>,
    phrase: Option<&str>,
    needed_facts: &[FactName],
) -> String {
    let w = words(language);
    let mut text = String::new();
    match reason {
        Some(r) => {
            text.push_str(&w.we_read.replace("{reason}", reason_words(language, r)));
            if let Some(p) = phrase.map(str::trim).filter(|p| !p.is_empty()) {
                let p: String = p.chars().take(160).collect();
                text.push_str(&w.from_words.replace("{phrase}", &p));
            }
            text.push(' ');
            text.push_str(w.not_sure);
        }
        None => text.push_str(w.no_reason),
    }
    text.push_str("\n\n");
    text.push_str(w.person_decides);
    text.push_str("\n\n");
    text.push_str(w.reply_with);
    text.push('\n');
    text.push_str("- ");
    text.push_str(w.choose_reason);
    text.push('\n');
    for fact in needed_facts {
        if let Some(ask) = fact_words(language, *fact) {
            text.push_str("- ");
            text.push_str(ask);
            text.push('\n');
        }
    }
    text
}

struct Words {
    we_read: &'static str,
    from_words: &'static str,
    not_sure: &'static str,
    no_reason: &'static str,
    person_decides: &'static str,
    reply_with: &'static str,
    choose_reason: &'static str,
}

fn words(language: Language) -> &'static Words {
    match language {
        Language::Ru => &Words {
            we_read: "Мы поняли ваше письмо так: {reason}",
            from_words: " (ваши слова: «{phrase}»).",
            not_sure: "Но мы не уверены, что поняли правильно, поэтому не возвращаем деньги автоматически.",
            no_reason: "Мы не смогли понять из письма, почему вы просите вернуть деньги (или просите ли вы об этом сейчас), поэтому не возвращаем деньги автоматически.",
            person_decides: "Вашу заявку рассмотрит сотрудник.",
            reply_with: "Чтобы ускорить решение, ответьте на это письмо и напишите:",
            choose_reason: "причину возврата одной фразой: отказ от покупки; товар или услуга не получены; болезнь, смерть близкого или стихийное бедствие; ошибочное или двойное списание;",
        },
        Language::Kk => &Words {
            we_read: "Хатыңызды былай түсіндік: {reason}",
            from_words: " (сіздің сөзіңіз: «{phrase}»).",
            not_sure: "Бірақ дұрыс түсінгенімізге сенімді емеспіз, сондықтан ақшаны автоматты түрде қайтармаймыз.",
            no_reason: "Хаттан ақшаны неліктен қайтаруды сұрайтыныңызды (немесе қазір сұрайтыныңызды) түсіне алмадық, сондықтан ақшаны автоматты түрде қайтармаймыз.",
            person_decides: "Өтінішіңізді қызметкер қарайды.",
            reply_with: "Шешімді жеделдету үшін осы хатқа жауап беріп, мыналарды жазыңыз:",
            choose_reason: "қайтару себебін бір сөйлеммен: сатып алудан бас тарту; тауар не қызмет алынбады; ауру, жақын адамның қайтыс болуы немесе табиғи апат; қате немесе екі рет есептен шығару;",
        },
        Language::Lv => &Words {
            we_read: "Mēs jūsu vēstuli sapratām tā: {reason}",
            from_words: " (jūsu vārdi: “{phrase}”).",
            not_sure: "Taču neesam pārliecināti, ka sapratām pareizi, tāpēc naudu automātiski neatmaksājam.",
            no_reason: "No vēstules nevarējām saprast, kāpēc (vai tieši tagad) lūdzat atmaksu, tāpēc naudu automātiski neatmaksājam.",
            person_decides: "Jūsu pieteikumu izskatīs darbinieks.",
            reply_with: "Lai lēmums būtu ātrāks, atbildiet uz šo vēstuli un uzrakstiet:",
            choose_reason: "atmaksas iemeslu vienā teikumā: atsakāties no pirkuma; prece vai pakalpojums nav saņemts; slimība, tuvinieka nāve vai dabas katastrofa; kļūdaina vai dubulta norakstīšana;",
        },
        Language::En => &Words {
            we_read: "This is how we understood your email: {reason}",
            from_words: " (your words: “{phrase}”).",
            not_sure: "But we are not sure we understood it right, so we are not refunding automatically.",
            no_reason: "We could not tell from your email why you are asking for your money back (or whether you are asking now), so we are not refunding automatically.",
            person_decides: "A member of our staff will look at your application.",
            reply_with: "To speed it up, please reply to this email with:",
            choose_reason: "the reason in one sentence: you withdraw from the purchase; the goods or service never arrived; illness, a death in the family or a natural disaster; a mistaken or double charge;",
        },
    }
}

/// The reason as the customer would say it.
fn reason_words(language: Language, reason: Reason) -> &'static str {
    use Reason::*;
    match (language, reason) {
        (Language::Ru, Withdrawal) => "вы отказываетесь от покупки",
        (Language::Ru, NotDelivered) => "товар или услуга не получены",
        (Language::Ru, ForceMajeure) => {
            "обстоятельства непреодолимой силы (болезнь, беда в семье, стихийное бедствие)"
        }
        (Language::Ru, ErroneousCharge) => "деньги списаны ошибочно или дважды",
        (Language::Ru, OutOfStockDifference) => "части заказа не было в наличии",
        (Language::Ru, AdvanceBalance) => "вы просите вернуть остаток аванса",
        (Language::Kk, Withdrawal) => "сіз сатып алудан бас тартасыз",
        (Language::Kk, NotDelivered) => "тауар не қызмет алынбады",
        (Language::Kk, ForceMajeure) => {
            "еңсерілмейтін күш жағдайлары (ауру, отбасындағы қайғы, табиғи апат)"
        }
        (Language::Kk, ErroneousCharge) => "ақша қателікпен немесе екі рет есептен шығарылды",
        (Language::Kk, OutOfStockDifference) => "тапсырыстың бір бөлігі қоймада болмады",
        (Language::Kk, AdvanceBalance) => "аванс қалдығын қайтаруды сұрайсыз",
        (Language::Lv, Withdrawal) => "jūs atsakāties no pirkuma",
        (Language::Lv, NotDelivered) => "prece vai pakalpojums nav saņemts",
        (Language::Lv, ForceMajeure) => {
            "nepārvaramas varas apstākļi (slimība, nelaime ģimenē, dabas katastrofa)"
        }
        (Language::Lv, ErroneousCharge) => "nauda norakstīta kļūdaini vai divreiz",
        (Language::Lv, OutOfStockDifference) => "daļas pasūtījuma nebija noliktavā",
        (Language::Lv, AdvanceBalance) => "jūs lūdzat atmaksāt avansa atlikumu",
        (Language::En, Withdrawal) => "you withdraw from the purchase",
        (Language::En, NotDelivered) => "the goods or service never arrived",
        (Language::En, ForceMajeure) => {
            "circumstances beyond your control (illness, a family tragedy, a natural disaster)"
        }
        (Language::En, ErroneousCharge) => "you were charged by mistake or twice",
        (Language::En, OutOfStockDifference) => "part of the order was out of stock",
        (Language::En, AdvanceBalance) => "you ask for the rest of an advance back",
    }
}

/// How to ask for a fact the policy needs, when the email did not state it.
fn fact_words(language: Language, fact: FactName) -> Option<&'static str> {
    Some(match (language, fact) {
        (Language::Ru, FactName::AccessStartedAt) => {
            "начали ли вы проходить курс, и если да, с какой даты и на сколько процентов прошли;"
        }
        (Language::Ru, FactName::GoodsReceivedAt) => {
            "получили ли вы товар, и если да, какого числа;"
        }
        (Language::Kk, FactName::AccessStartedAt) => {
            "курсты бастадыңыз ба, бастасаңыз қай күннен бастап және неше пайызын өттіңіз;"
        }
        (Language::Kk, FactName::GoodsReceivedAt) => "тауарды алдыңыз ба, алсаңыз қай күні;",
        (Language::Lv, FactName::AccessStartedAt) => {
            "vai esat sākuši kursu, un, ja jā, no kura datuma un cik procentus esat apguvuši;"
        }
        (Language::Lv, FactName::GoodsReceivedAt) => "vai saņēmāt preci, un, ja jā, kurā datumā;",
        (Language::En, FactName::AccessStartedAt) => {
            "whether you have started the course, and if so on what date and how far you got (in per cent);"
        }
        (Language::En, FactName::GoodsReceivedAt) => {
            "whether you received the goods, and if so on what date;"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_uncertain_reading_is_restated_in_the_customers_language_with_what_to_reply() {
        let ru = understood(
            Language::Ru,
            Some(Reason::NotDelivered),
            Some("так и не пришёл"),
            &[FactName::GoodsReceivedAt],
        );
        assert!(ru.contains("товар или услуга не получены"), "{ru}");
        assert!(ru.contains("«так и не пришёл»"), "{ru}");
        assert!(ru.contains("не возвращаем деньги автоматически"), "{ru}");
        assert!(ru.contains("получили ли вы товар"), "{ru}");
        let kk = understood(Language::Kk, None, None, &[]);
        assert!(
            kk.contains("түсіне алмадық") && kk.contains("қызметкер"),
            "{kk}"
        );
        for language in [Language::Ru, Language::Kk, Language::Lv, Language::En] {
            for &reason in Reason::ALL {
                let text = understood(
                    language,
                    Some(reason),
                    Some("x"),
                    &[FactName::AccessStartedAt],
                );
                assert!(!text.contains('{'), "{language:?} {reason:?}: {text}");
            }
        }
    }
}
