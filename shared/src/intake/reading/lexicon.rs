//! What phrases mean: per reason and per language, the phrases that support it, plus the
//! phrases for a plain refund request, for hedges ("not asking yet") and for stated facts.
//!
//! A phrase is a list of words matched on tokens in order, within one clause, with at most
//! [`MAX_GAP`] other tokens between two of its words and no negation among those. A word is
//! - `word*`: any token whose key starts with `word` (after the same normalisation); a prefix
//!   of four letters or more with an `о` also matches with `о` written `а` (`пажар`,
//!   `падашол`: Russian unstressed `о` is pronounced and often typed `а`);
//! - `#`: a number from 2 to 9 ("2 раза", "2 рет", "3 times");
//! - `=word`: a token whose key is exactly `word`;
//! - `word`: a token with the same stem in the phrase's language (Snowball for Russian and
//!   English, the suffix rules of `normalise` for Kazakh and Latvian); words of up to three
//!   letters must match exactly.
//!
//! Phrases are matched on whole tokens, never inside other words, and a phrase found inside
//! a longer phrase of another meaning does not count (`сәйкес келмеді`, "did not suit me",
//! contains `келмеді`, "did not come").

use std::sync::LazyLock;

use super::normalise::{Lang, Sentence, key, loose, stems};
use crate::policy::Reason;

/// Tokens allowed between two words of a phrase.
pub(super) const MAX_GAP: usize = 2;

/// What a phrase says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Meaning {
    Reason(Reason),
    /// Supports the reason only when no reason has plain support of its own: "cancel",
    /// "отказываюсь", "no longer needed" say what the customer wants done (withdraw), and
    /// come with other reasons too ("my father died, please cancel"); "the difference" comes
    /// with double charges as well as with out-of-stock differences.
    Weak(Reason),
    /// "Refund me", "верните деньги": asks for money back without a reason; supports
    /// withdrawal only when no other reason has support.
    Request,
    /// "Not asking yet", "просто интересуюсь": the email is not an application.
    Hedge,
    Received,
    OrderAccepted,
    OrderNotAccepted,
    /// "I have not started the course": progress 0.
    NotStarted,
    /// Strong praise ("great job", "керемет", "lieliski"): next to a complaint, likely
    /// sarcasm.
    Praise,
}

#[derive(Debug)]
enum Word {
    /// The prefix, and its [`loose`] form when it is long enough to match loosely.
    Prefix(String, Option<String>),
    Exact(String),
    Stem(String),
    Number,
}

#[derive(Debug)]
pub(super) struct Phrase {
    pub meaning: Meaning,
    lang: Lang,
    words: Vec<Word>,
    /// The phrase counts only in a sentence that also has one of these (payment words for
    /// "2 раза": "I wrote twice" is no double charge).
    needs_payment_context: bool,
}

/// One phrase found in one sentence: tokens `first..=last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Found {
    pub meaning: Meaning,
    pub sentence: usize,
    pub first: usize,
    pub last: usize,
}

fn word(text: &str, lang: Lang) -> Word {
    if text == "#" {
        Word::Number
    } else if let Some(exact) = text.strip_prefix('=') {
        Word::Exact(key(exact))
    } else if let Some(prefix) = text.strip_suffix('*') {
        let k = key(prefix);
        let loose = (k.chars().count() >= 4 && k.chars().any(|c| c == 'о')).then(|| loose(&k));
        Word::Prefix(k, loose)
    } else {
        let k = key(text);
        if k.chars().count() <= 3 {
            Word::Exact(k)
        } else {
            Word::Stem(stems(&k)[lang as usize].clone())
        }
    }
}

impl Word {
    fn matches(&self, token: &super::normalise::Token, lang: Lang) -> bool {
        match self {
            Word::Prefix(p, l) => {
                token.key.starts_with(p.as_str())
                    || l.as_ref()
                        .is_some_and(|l| token.loose.starts_with(l.as_str()))
            }
            Word::Exact(k) => token.key == *k,
            Word::Stem(s) => token.stem(lang) == s,
            Word::Number => {
                token.is_number() && token.key.parse::<u32>().is_ok_and(|n| (2..=9).contains(&n))
            }
        }
    }
}

/// Tokens that negate what follows them in Russian, Latvian and English (Kazakh negates
/// after the verb: see `scope`).
pub(super) fn is_negator(key: &str) -> bool {
    matches!(
        key,
        "не" | "нет"
            | "нельзя"
            | "никогда"
            | "not"
            | "never"
            | "nobody"
            | "hardly"
            | "ne"
            | "nav"
            | "nekad"
            | "nebija"
            | "neesmu"
            | "nevaru"
            | "nevar"
    ) || key.starts_with("nesak")
        || key.starts_with("neteik")
        || key.starts_with("nedomaj")
}

const PAYMENT_CONTEXT: [&str; 24] = [
    "спис",
    "оплат",
    "плат",
    "деньг",
    "денг",
    "снял",
    "сня",
    "charg",
    "paid",
    "pay",
    "bill",
    "debit",
    "maks",
    "nonem",
    "norakst",
    "samaks",
    "толе",
    "акша",
    "шот",
    "транзакц",
    "transaction",
    "card",
    "карт",
    "karte",
];

/// Every phrase, built once.
pub(super) static PHRASES: LazyLock<Vec<Phrase>> = LazyLock::new(|| {
    let mut all = Vec::new();
    for (meaning, lang, list) in TABLE {
        for text in *list {
            let (text, needs_payment_context) = match text.strip_prefix("$ ") {
                Some(t) => (t, true),
                None => (*text, false),
            };
            all.push(Phrase {
                meaning: *meaning,
                lang: *lang,
                words: text.split_whitespace().map(|w| word(w, *lang)).collect(),
                needs_payment_context,
            });
        }
    }
    all
});

/// All phrases found in the sentences, longest first where one lies inside another of a
/// different meaning (the shorter one is dropped), in text order.
pub(super) fn find(sentences: &[Sentence]) -> Vec<Found> {
    let mut found = Vec::new();
    for (s, sentence) in sentences.iter().enumerate() {
        let payment = sentence.tokens.iter().any(|t| {
            PAYMENT_CONTEXT
                .iter()
                .any(|p| t.key.starts_with(p) || t.stem(En) == *p)
        });
        for phrase in PHRASES.iter() {
            if phrase.needs_payment_context && !payment {
                continue;
            }
            let mut from = 0;
            while let Some((first, last)) = match_at(phrase, sentence, from) {
                found.push(Found {
                    meaning: phrase.meaning,
                    sentence: s,
                    first,
                    last,
                });
                from = last + 1;
            }
        }
    }
    found.retain(|f| {
        f.meaning != Meaning::Reason(Reason::NotDelivered)
            || !(names_a_reply_or_refund(&sentences[f.sentence], f)
                || kazakh_could_not(&sentences[f.sentence], f))
    });
    let requests: Vec<Found> = found
        .iter()
        .copied()
        .filter(|f| f.meaning == Meaning::Request)
        .collect();
    for f in &mut found {
        let sentence = &sentences[f.sentence];
        if f.meaning == Meaning::Reason(Reason::NotDelivered) && not_yet(sentence, f) {
            f.meaning = Meaning::Weak(Reason::NotDelivered);
        }
        if f.meaning == Meaning::Weak(Reason::Withdrawal)
            && says_needed(sentence, f)
            && requests.iter().any(|r| {
                r.sentence == f.sentence
                    && sentence.tokens[r.first].clause == sentence.tokens[f.first].clause
                    && r.last + 4 > f.first
                    && f.last + 4 > r.first
            })
        {
            // "Atmaksa vairs nav vajadzīga", "the refund is no longer needed": the customer
            // takes the request back.
            f.meaning = Meaning::Hedge;
        }
    }
    let mut kept: Vec<Found> = found
        .iter()
        .copied()
        .filter(|f| {
            !found.iter().any(|g| {
                g.sentence == f.sentence
                    && g.meaning != f.meaning
                    && g.first <= f.first
                    && g.last >= f.last
                    && (g.last - g.first) > (f.last - f.first)
            })
        })
        .collect();
    kept.sort_by_key(|f| (f.sentence, f.first, f.last));
    kept.dedup();
    // The same meaning found twice over overlapping tokens counts once.
    let mut out: Vec<Found> = Vec::new();
    for f in kept {
        if out.iter().any(|g| {
            g.sentence == f.sentence
                && g.meaning == f.meaning
                && g.last >= f.first
                && g.first <= f.last
        }) {
            continue;
        }
        out.push(f);
    }
    out
}

/// What was not received is an answer, a letter or the refund itself, not the goods: "I
/// never received a reply", "до сих пор не получил возврат", "жауап алмадым". Looked for in
/// the phrase's clause, two tokens before it (Kazakh puts the object first) to four after.
fn names_a_reply_or_refund(sentence: &Sentence, f: &Found) -> bool {
    const OBJECTS: [&str; 35] = [
        "ответ",
        "письм",
        "уведомлен",
        "подтвержден",
        "возврат",
        "деньг",
        "денг",
        "средств",
        "reply",
        "respons",
        "answer",
        "email",
        "letter",
        "notification",
        "confirmation",
        "refund",
        "money",
        "atbild",
        "vestul",
        "epast",
        "e-past",
        "apstiprinajum",
        "naud",
        "atmaks",
        "жауап",
        "хат",
        "акша",
        "кайтар",
        "хабарлама",
        "сообщен",
        "ожида",
        "того",
        "чего",
        "expect",
        "куткен",
    ];
    let clause = sentence.tokens[f.first].clause;
    let from = f.first.saturating_sub(2);
    let to = (f.last + 5).min(sentence.tokens.len());
    sentence.tokens[from..to].iter().enumerate().any(|(i, t)| {
        let i = from + i;
        (i < f.first || i > f.last)
            && t.clause == clause
            && OBJECTS.iter().any(|o| t.key.starts_with(o))
    })
}

/// Kazakh `<verb>-а/-е/-й алмадым` is "I could not <verb>" (the auxiliary of ability), not
/// "I did not receive": `жинай алмадық`, "we could not build".
fn kazakh_could_not(sentence: &Sentence, f: &Found) -> bool {
    let key = &sentence.tokens[f.first].key;
    (key.starts_with("алма") || key.starts_with("алган"))
        && f.first > 0
        && sentence.tokens[f.first - 1]
            .key
            .ends_with(['а', 'е', 'й', 'я'])
}

/// "Not yet" (`ещё`, `пока`, `әлі`, `vēl`, `yet`) next to a not-delivered phrase: the
/// delivery may still come, so the phrase is weak (cancelling before delivery is as likely a
/// withdrawal).
fn not_yet(sentence: &Sentence, f: &Found) -> bool {
    let from = f.first.saturating_sub(2);
    let to = (f.last + 3).min(sentence.tokens.len());
    let clause = sentence.tokens[f.first].clause;
    (from..to).any(|i| {
        (i < f.first || i > f.last)
            && sentence.tokens[i].clause == clause
            && matches!(
                sentence.tokens[i].key.as_str(),
                "еще" | "пока" | "али" | "vel" | "yet"
            )
    })
}

/// The phrase says something is not needed.
fn says_needed(sentence: &Sentence, f: &Found) -> bool {
    sentence.tokens[f.first..=f.last].iter().any(|t| {
        ["нуж", "need", "vajag", "vajadz", "керек", "кажет"]
            .iter()
            .any(|n| t.key.starts_with(n))
    })
}

fn match_at(phrase: &Phrase, sentence: &Sentence, from: usize) -> Option<(usize, usize)> {
    let tokens = &sentence.tokens;
    let (head, tail) = phrase.words.split_first()?;
    'start: for first in from..tokens.len() {
        if !head.matches(&tokens[first], phrase.lang) {
            continue;
        }
        let mut at = first;
        for w in tail {
            let mut next = None;
            for j in at + 1..tokens.len().min(at + 2 + MAX_GAP) {
                if tokens[j].clause != tokens[at].clause {
                    break;
                }
                if w.matches(&tokens[j], phrase.lang) {
                    next = Some(j);
                    break;
                }
                if is_negator(&tokens[j].key) {
                    break;
                }
            }
            match next {
                Some(j) => at = j,
                None => continue 'start,
            }
        }
        return Some((first, at));
    }
    None
}

use Lang::{En, Kk, Lv, Ru};
use Meaning as M;

/// The lexicon. `$ ` before a phrase: it needs a payment word in its sentence.
const TABLE: &[(Meaning, Lang, &[&str])] = &[
    // ---- not delivered ------------------------------------------------------------------
    (
        M::Reason(Reason::NotDelivered),
        Ru,
        &[
            "не получ*",
            "не пришл*",
            "не пришел*",
            "не приходил*",
            "не доставл*",
            "не достав*",
            "не привез*",
            "не дошл*",
            "не дошел*",
            "не отправ*",
            "не выслал*",
            "не оказан*",
            "не оказали услуг*",
            "услуг* не оказ*",
            "так и не =открыли",
            "так и не =дали",
            "так и не =прислали",
            "надоело ждат*",
            "устал* ждат*",
            "не предостав*",
            "не поступил*",
            "до сих пор жд*",
            "все еще жд*",
            "нет доставк*",
            "потерял* посылк*",
            "не дал* доступ*",
            "доступ* не дал*",
            "не открыл* доступ*",
            "доступ* не открыл*",
            "доступ* не откр*",
            "не выдал* доступ*",
            "нет доступ*",
            "так и не началс*",
            "так и не началис*",
            "до сих пор не началс*",
            "посылк* потерял*",
            "не видел* товар*",
        ],
    ),
    (
        M::Reason(Reason::NotDelivered),
        Kk,
        &[
            "алмады*",
            "алмадык*",
            "алган жок*",
            "келмеди*",
            "келмей жатыр*",
            "келген жок*",
            "жеткизилмеди*",
            "жеткизбеди*",
            "жеткизилген жок*",
            "жибермеди*",
            "жиберилмеди*",
            "жиберилген жок*",
            "али кут*",
            "али де кут*",
            "колыма тимеди*",
            "тиген жок*",
            "берилмеди*",
            "берилген жок*",
            "ашылмады*",
            "ашылган жок*",
            "=ашпады",
            "басталмады*",
            "корсетилмеди*",
            "кутуден шаршад*",
            "корсетилмеген*",
        ],
    ),
    (
        M::Reason(Reason::NotDelivered),
        Lv,
        &[
            "nesanem*",
            "nav sanem*",
            "neesmu sanem*",
            "neatnac*",
            "neatnak*",
            "nav atnac*",
            "nav atnak*",
            "nepienac*",
            "nav pienac*",
            "nav piegad*",
            "netika piegad*",
            "nepiegad*",
            "nav atsutit*",
            "neatsut*",
            "joprojam gaid*",
            "vel arvien gaid*",
            "vel joprojam gaid*",
            "netika sniegt*",
            "joprojam neka",
            "apnika gaidit*",
            "nav sniegt*",
            "netika pieskirt*",
            "nav pieskirt*",
            "netika sakt*",
            "nenotik*",
            "nav notik*",
            "nav piekluv*",
        ],
    ),
    (
        M::Reason(Reason::NotDelivered),
        En,
        &[
            "not receiv*",
            "never receiv*",
            "not arriv*",
            "never arriv*",
            "not deliver*",
            "never deliver*",
            "never came",
            "never come",
            "not come",
            "not came",
            "never show*",
            "not show* up",
            "not shown up",
            "never turn* up",
            "not turn* up",
            "still wait*",
            "never got",
            "not get",
            "not got",
            "not gotten",
            "never gotten",
            "no sign of",
            "nothing arriv*",
            "nothing came",
            "lost in the post",
            "lost in transit",
            "not ship*",
            "never ship*",
            "not been granted",
            "tired of waiting",
            "still nothing",
            "never granted",
            "not granted",
            "no access",
            "not provided",
            "never provided",
            "not give me access",
            "never gave me access",
        ],
    ),
    // ---- force majeure ------------------------------------------------------------------
    (
        M::Reason(Reason::ForceMajeure),
        Ru,
        &[
            "форс мажор*",
            "форсмажор*",
            "непреодолим* сил*",
            "больниц*",
            "госпитал*",
            "реанимац*",
            "болезн*",
            "заболел*",
            "болею",
            "болен",
            "больна",
            "умер*",
            "скончал*",
            "смерт*",
            "похорон*",
            "наводнен*",
            "затопил*",
            "потоп*",
            "пожар*",
            "землетрясен*",
            "стихийн* бедств*",
            "карантин*",
            "перелом*",
            "сгорел*",
            "погорел*",
            "инсульт*",
            "инфаркт*",
        ],
    ),
    (
        M::Reason(Reason::ForceMajeure),
        Kk,
        &[
            "енсерилмейтин куш*",
            "форс мажор*",
            "аурухана*",
            "ауырып*",
            "ауырдым*",
            "ауруы*",
            "ауруга*",
            "ауру",
            "наукас*",
            "кайтыс бол*",
            "дуние салд*",
            "жерлеу*",
            "су таскын*",
            "таскын*",
            "орт шык*",
            "орт бол*",
            "ортте*",
            "куйип кет*",
            "су басып*",
            "су басты*",
            "жер силкин*",
            "жаракат*",
            "карантин*",
        ],
    ),
    (
        M::Reason(Reason::ForceMajeure),
        Lv,
        &[
            "neparvaram* var*",
            "force majeure",
            "slimnic*",
            "slimib*",
            "slimo*",
            "=slims",
            "=slima",
            "saslim*",
            "nomir*",
            "=miris",
            "=mirusi",
            "=naves",
            "=nave",
            "beres",
            "pludi*",
            "pludos",
            "pludu",
            "applud*",
            "ugunsgrek*",
            "zemestric*",
            "traum*",
            "karantin*",
        ],
    ),
    (
        M::Reason(Reason::ForceMajeure),
        En,
        &[
            "force majeure",
            "hospital*",
            "illness",
            "=ill",
            "sick*",
            "disease",
            "passed away",
            "=died",
            "=death",
            "funeral",
            "bereavement",
            "flood*",
            "house fire",
            "=fire",
            "earthquake*",
            "natural disaster*",
            "car accident",
            "surgery",
            "quarantin*",
            "stroke",
            "heart attack",
        ],
    ),
    // ---- erroneous charge ---------------------------------------------------------------
    (
        M::Reason(Reason::ErroneousCharge),
        Ru,
        &[
            "$ дважды",
            "$ два раз*",
            "$ # раз*",
            "$ =2х",
            "$ =х2",
            "$ =2x",
            "$ =x2",
            "$ трижды",
            "двойн* списан*",
            "двойн* оплат*",
            "двойн* платеж*",
            "повторн* списан*",
            "повторн* списал*",
            "ошибочн* списан*",
            "ошибочн* списал*",
            "ошибочн* плат*",
            "ошибочн* оплат*",
            "лишн* списан*",
            "списал* лишн*",
            "списал* по ошибк*",
            "по ошибке списал*",
            "не оплачивал*",
            "не совершал*",
            "не делал* покуп*",
            "не делал* плат*",
            "не делал* заказ*",
            "несанкционирован*",
            "автопродлен*",
            "автоматически продл*",
            "продлил* без*",
            "списал* после отмен*",
            "дублир*",
            "$ дубл*",
        ],
    ),
    (
        M::Reason(Reason::ErroneousCharge),
        Kk,
        &[
            "$ екі рет*",
            "$ # рет*",
            "$ =2х",
            "$ =2x",
            "кате ал*",
            "автоматты* жанарт*",
            "автоматты* узарт*",
            "кателесип*",
            "кателикпен*",
            "кос тол*",
            "кайта тол*",
            "артык тол*",
            "артык акша*",
            "артык алын*",
            "толем жасаган жок*",
        ],
    ),
    (
        M::Reason(Reason::ErroneousCharge),
        Lv,
        &[
            "$ divreiz*",
            "$ # reiz*",
            "$ =2x",
            "$ =x2",
            "$ trisreiz*",
            "dubult* maksaj*",
            "dubult* norakst*",
            "dubult* nonem*",
            "klud* norakst*",
            "klud* nonem*",
            "kludain*",
            "atjaunoj*",
            "automatiski atjaun*",
            "nepamatot* norakst*",
            "nepamatot* nonem*",
            "atkartot* norakst*",
            "neesmu veic* maksaj*",
            "neveicu*",
        ],
    ),
    (
        M::Reason(Reason::ErroneousCharge),
        En,
        &[
            "$ twice",
            "$ # time*",
            "$ =2x",
            "$ =x2",
            "$ two times",
            "$ three times",
            "double charg*",
            "charg* double",
            "charg* twice",
            "duplicat* charg*",
            "duplicat* payment*",
            "duplicat* transaction*",
            "charg* by mistak*",
            "mistaken* charg*",
            "wrong* charg*",
            "erroneous* charg*",
            "unauthori*",
            "auto renew*",
            "renewed without",
            "renewed even though",
            "charged after cancel*",
            "not authori*",
            "not make th* payment",
            "not make this purchas*",
            "never made th*",
            "not recogni* th* charg*",
            "charged again",
            "extra charg*",
            "overcharg*",
        ],
    ),
    // ---- out of stock / difference ------------------------------------------------------
    (
        M::Reason(Reason::OutOfStockDifference),
        Ru,
        &[
            "нет в наличи*",
            "не было в наличи*",
            "нет на склад*",
            "не было на склад*",
            "отсутств* на склад*",
            "закончил* на склад*",
            "недовлож*",
            "привезли не все",
            "прислали не все",
        ],
    ),
    (
        M::Reason(Reason::OutOfStockDifference),
        Kk,
        &["коймада жок*", "коймада болмады*", "колда жок*"],
    ),
    (
        M::Weak(Reason::OutOfStockDifference),
        Kk,
        &[
            "айырмашылы*",
            "айырма*",
            "жетиспеиди*",
            "жетиспейди*",
            "жетиспеди*",
        ],
    ),
    (
        M::Weak(Reason::OutOfStockDifference),
        Ru,
        &["разниц*", "не хватает", "не хватало"],
    ),
    (
        M::Weak(Reason::OutOfStockDifference),
        Lv,
        &["starpib*", "trukst*", "pietrukst*"],
    ),
    (
        M::Weak(Reason::OutOfStockDifference),
        En,
        &["the difference", "price difference"],
    ),
    (
        M::Reason(Reason::OutOfStockDifference),
        Lv,
        &[
            "nav noliktav*",
            "nebija noliktav*",
            "nav pieejam*",
            "nebija pieejam*",
        ],
    ),
    (
        M::Reason(Reason::OutOfStockDifference),
        En,
        &[
            "out of stock",
            "not in stock",
            "unavailable",
            "missing item*",
            "item* missing",
            "partial* deliver*",
            "only part of",
        ],
    ),
    // ---- advance balance ----------------------------------------------------------------
    (
        M::Reason(Reason::AdvanceBalance),
        Ru,
        &[
            "аванс*",
            "остат* на баланс*",
            "остат* средств*",
            "остат* на счет*",
            "неиспользован* остат*",
            "предоплат*",
        ],
    ),
    (
        M::Reason(Reason::AdvanceBalance),
        Kk,
        &["аванс*", "баланс* калды*", "калдык*", "алдын ала тол*"],
    ),
    (
        M::Reason(Reason::AdvanceBalance),
        Lv,
        &["avans*", "atlikum*", "priekssamaks*"],
    ),
    (
        M::Reason(Reason::AdvanceBalance),
        En,
        &[
            "advance balance",
            "account balance",
            "remaining balance",
            "unused balance",
            "balance on my account",
            "prepaid balance",
            "credit balance",
            "advance payment",
            "prepayment",
            "remaining credit",
        ],
    ),
    // ---- withdrawal ---------------------------------------------------------------------
    (
        M::Reason(Reason::Withdrawal),
        Ru,
        &[
            "передумал*",
            "не подош*",
            "не подход*",
            "не понрав*",
            "не устраива*",
            "не устроил*",
            "не соответству*",
            "не то",
        ],
    ),
    (
        M::Weak(Reason::Withdrawal),
        Ru,
        &[
            "отказыва*",
            "отказ от",
            "отказат*",
            "откажусь",
            "расторгн*",
            "расторжен*",
            "отмен*",
            "не нужен",
            "не нужна",
            "не нужно",
            "не нужны",
            "не актуальн*",
            "неактуальн*",
            "больше не нуж*",
            "не хочу продолжать",
        ],
    ),
    (
        M::Reason(Reason::Withdrawal),
        Kk,
        &[
            "сайкес келме*",
            "сайкес емес",
            "унамады*",
            "унамай*",
            "ойым озгер*",
            "ойымды озгерт*",
            "шешимимди озгерт*",
        ],
    ),
    (
        M::Weak(Reason::Withdrawal),
        Kk,
        &[
            "керек емес",
            "кажет емес",
            "кажети жок*",
            "бас тарт*",
            "болдырма*",
        ],
    ),
    (
        M::Reason(Reason::Withdrawal),
        Lv,
        &["pardomaj*", "nepatik*", "nepiemerot*", "neatbilst*"],
    ),
    (
        M::Weak(Reason::Withdrawal),
        Lv,
        &[
            "neder*",
            "atsak*",
            "atteik*",
            "atcel*",
            "atkapt*",
            "atkapsan*",
            "nav vajadzig*",
            "vairs nevajag*",
            "nevajag*",
        ],
    ),
    (
        M::Reason(Reason::Withdrawal),
        En,
        &[
            "changed my mind",
            "change my mind",
            "not like*",
            "not suit*",
            "not fit*",
            "not what i expect*",
            "not as describ*",
            "not for me",
        ],
    ),
    (
        M::Weak(Reason::Withdrawal),
        En,
        &[
            "cancel*",
            "withdraw*",
            "no longer need*",
            "not need*",
            "no longer want*",
            "not want it",
        ],
    ),
    // ---- a plain request for money back -------------------------------------------------
    (
        M::Request,
        Ru,
        &[
            "возврат*",
            "верн* деньг*",
            "верн* денг*",
            "верн* средств*",
            "верн* оплат*",
            "верн* сумм*",
            "верн* плат*",
            "вернут*",
            "вернит*",
            "возмест*",
            "компенс*",
        ],
    ),
    (M::Request, Kk, &["кайтар*", "акшамды*", "акшаны*"]),
    (
        M::Request,
        Lv,
        &[
            "atmaks*",
            "atgriez* naud*",
            "atgriezt*",
            "atgriez*",
            "naud* atpakal*",
            "atgut*",
        ],
    ),
    (
        M::Request,
        En,
        &[
            "refund*",
            "money back",
            "reimburs*",
            "return the money",
            "return it",
            "send it back",
            "take it back",
        ],
    ),
    // ---- hedges: not an application yet -------------------------------------------------
    (
        M::Hedge,
        Ru,
        &[
            "пока не прошу",
            "пока не оформля*",
            "пока не требую",
            "просто спрашива*",
            "просто интерес*",
            "просто уточня*",
            "хочу узнать",
            "хотел* узнать",
            "хочу уточнить",
            "хотел* бы уточнить",
            "на будущее",
            "не прошу",
            "не требую",
            "не хочу возврат*",
            "не нужен возврат",
            "не знаю",
            "не уверен*",
            "просто планиру*",
        ],
    ),
    (
        M::Hedge,
        Kk,
        &[
            "азирге сурамаймын*",
            "азирге отиниш бермей*",
            "жай сура*",
            "билгим келеди*",
            "билгим келип*",
            "сурамайм*",
            "билмейм*",
            "билмеим*",
            "жоспарлап*",
        ],
    ),
    (
        M::Hedge,
        Lv,
        &[
            "pagaidam neprasu",
            "pagaidam neprasam",
            "tikai jautaj*",
            "tikai interes*",
            "gribu uzzinat*",
            "gribet* uzzinat*",
            "velos uzzinat*",
            "velejos uzzinat*",
            "neprasu",
            "neprasam",
            "negribu atmaks*",
            "nezinu",
            "neesmu parliecinat*",
            "tikai planoj*",
        ],
    ),
    (
        M::Hedge,
        En,
        &[
            "not asking yet",
            "not asking for",
            "not requesting",
            "just asking",
            "just wondering",
            "just curious",
            "i wonder*",
            "wondering if",
            "wondering whether",
            "hypothetical*",
            "for future reference",
            "not want a refund",
            "not need a refund",
            "not know whether",
            "not know if",
            "not sure",
            "just planning",
        ],
    ),
    // ---- praise, which next to a complaint is likely sarcasm ---------------------------
    (
        M::Praise,
        Ru,
        &[
            "отлично",
            "отличн* работ*",
            "прекрасно",
            "замечательно",
            "великолепно",
            "шикарно",
            "браво",
            "спасибо огромное за",
        ],
    ),
    (M::Praise, Kk, &["керемет*", "тамаша*", "оте тиимди*"]),
    (
        M::Praise,
        Lv,
        &["lieliski", "brinisk*", "izcili", "paldies par atro"],
    ),
    (
        M::Praise,
        En,
        &[
            "great job",
            "well done",
            "wonderful",
            "fantastic",
            "brilliant",
            "amazing",
            "excellent",
            "thanks a lot for",
            "thanks so much for",
        ],
    ),
    // ---- stated facts -------------------------------------------------------------------
    (
        M::Received,
        Ru,
        &[
            "получил*",
            "=пришел",
            "=пришла",
            "=пришло",
            "=пришли",
            "=доставили",
            "=доставлен",
            "=доставлена",
            "=доставлено",
            "забрал*",
        ],
    ),
    (
        M::Received,
        Kk,
        &["=алдым", "=алдык", "келди*", "жеткизилди*", "колыма тиди*"],
    ),
    (
        M::Received,
        Lv,
        &[
            "=sanemu",
            "=sanema",
            "=sanemam",
            "=sanemts",
            "=sanemta",
            "=sanemusi",
            "=sanemis",
            "esmu sanem*",
            "=atnaca",
            "=pienaca",
            "=piegadaja",
        ],
    ),
    (
        M::Received,
        En,
        &[
            "=received",
            "=arrived",
            "was delivered",
            "got it",
            "got the",
            "=came",
            "it did",
        ],
    ),
    (
        M::OrderNotAccepted,
        Ru,
        &[
            "не принят*",
            "не принял*",
            "не подтвержд*",
            "не подтвердил*",
            "не оформлен*",
        ],
    ),
    (
        M::OrderNotAccepted,
        Kk,
        &[
            "кабылданбаган*",
            "кабылданбады*",
            "кабылданган жок*",
            "растталмады*",
        ],
    ),
    (
        M::OrderNotAccepted,
        Lv,
        &[
            "nav apstiprin*",
            "nav pienemt*",
            "netika apstiprin*",
            "netika pienemt*",
        ],
    ),
    (
        M::OrderNotAccepted,
        En,
        &[
            "not accept*",
            "not been accepted",
            "not confirm*",
            "not been confirmed",
        ],
    ),
    (
        M::OrderAccepted,
        Ru,
        &[
            "заказ* принят",
            "заказ* подтвержд*",
            "подтвердил* заказ*",
            "принял* заказ*",
            "заказ* в работ*",
            "взял* в работ*",
            "принял* в работ*",
        ],
    ),
    (
        M::OrderAccepted,
        Kk,
        &[
            "тапсырыс* кабылданды*",
            "тапсырыс* =кабылданган",
            "тапсырыс* расталды*",
            "жумыска алын*",
        ],
    ),
    (
        M::OrderAccepted,
        Lv,
        &[
            "pasutijum* apstiprin*",
            "pasutijum* pienemt*",
            "apstiprinaja pasutijum*",
        ],
    ),
    (
        M::OrderAccepted,
        En,
        &[
            "order* accepted",
            "order* confirmed",
            "confirmed my order",
            "accepted my order",
        ],
    ),
    (
        M::NotStarted,
        Ru,
        &[
            "не начинал*",
            "не начал*",
            "не открывал*",
            "не приступал*",
            "ни одного урок*",
            "не смотрел*",
        ],
    ),
    (
        M::NotStarted,
        Kk,
        &[
            "бастаган жок*",
            "бастамадым*",
            "ашкан жок*",
            "ашпадым*",
            "карамадым*",
        ],
    ),
    (
        M::NotStarted,
        Lv,
        &[
            "neesmu sacis",
            "neesmu sakusi",
            "nav sakt*",
            "neatveru*",
            "neesmu atver*",
        ],
    ),
    (
        M::NotStarted,
        En,
        &[
            "not start*",
            "never start*",
            "not open*",
            "never open*",
            "not even start*",
        ],
    ),
];
