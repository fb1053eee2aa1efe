//! Which of our four customer languages an email is written in, guessed from its letters and
//! a few common words. Only the customer's own words count: quoted lines (`>`) and forwarded
//! or quoted-reply blocks are left out, so a reply in Latvian quoting our Russian mail is
//! Latvian.

pub use crate::language::Language;

impl Language {
    /// Guesses the language of `subject` and `body` (see the module comment).
    pub fn guess(subject: &str, body: &str) -> Language {
        let own = own_words(body);
        if let Some(asked) = asked_language(&own) {
            return asked;
        }
        let mut letters = Letters::default();
        letters.count(subject);
        letters.count(&own);
        if letters.cyrillic + letters.latin == 0 {
            // Nothing of the customer's own: fall back to everything, quotes included.
            letters.count(body);
        }
        if letters.cyrillic > letters.latin {
            // Kazakh text has its own letters in nearly every sentence, and its own words
            // when typed without them; mixed text goes by the words of each.
            let (kazakh, russian) = cyrillic_words(&format!("{subject}\n{own}"));
            if kazakh > russian || (russian == 0 && letters.kazakh >= 1) {
                Language::Kk
            } else {
                Language::Ru
            }
        } else if let translit @ (super::reading::Translit::Russian
        | super::reading::Translit::Kazakh) =
            super::reading::translit_of(&format!("{subject}\n{own}"))
        {
            // Russian or Kazakh typed in Latin letters: answered in that language.
            if translit == super::reading::Translit::Russian {
                Language::Ru
            } else {
                Language::Kk
            }
        } else if letters.latvian >= 2
            || (letters.latvian >= 1 && letters.latin < 40)
            || has_latvian_words(subject, &own)
        {
            Language::Lv
        } else {
            Language::En
        }
    }
}

#[derive(Default)]
struct Letters {
    cyrillic: usize,
    kazakh: usize,
    latin: usize,
    latvian: usize,
}

impl Letters {
    fn count(&mut self, text: &str) {
        for c in text.chars().flat_map(char::to_lowercase) {
            match c {
                'ә' | 'ғ' | 'қ' | 'ң' | 'ө' | 'ұ' | 'ү' | 'һ' | 'і' => {
                    self.kazakh += 1;
                    self.cyrillic += 1;
                }
                'а'..='я' | 'ё' => self.cyrillic += 1,
                'ā' | 'č' | 'ē' | 'ģ' | 'ī' | 'ķ' | 'ļ' | 'ņ' | 'š' | 'ū' | 'ž' => {
                    self.latvian += 1;
                    self.latin += 1;
                }
                'a'..='z' => self.latin += 1,
                _ => {}
            }
        }
    }
}

/// Lower case with Kazakh letters read as their Russian look-alikes and Latvian diacritics
/// dropped, for word lists written without them.
fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ә' => 'а',
            'ғ' => 'г',
            'қ' => 'к',
            'ң' => 'н',
            'ө' => 'о',
            'ұ' | 'ү' => 'у',
            'һ' => 'х',
            'і' => 'и',
            'ё' => 'е',
            'ā' => 'a',
            'č' => 'c',
            'ē' => 'e',
            'ģ' => 'g',
            'ī' => 'i',
            'ķ' => 'k',
            'ļ' => 'l',
            'ņ' => 'n',
            'š' => 's',
            'ū' => 'u',
            'ž' => 'z',
            c => c,
        })
        .collect()
}

/// The language the customer asks to be answered in ("ответьте по-русски", "жауапты
/// қазақша жазыңыз", "please reply in English", "atbildiet latviski").
fn asked_language(own: &str) -> Option<Language> {
    const REPLY: [&str; 12] = [
        "ответ",
        "пиши",
        "напиши",
        "жауап",
        "жаз",
        "reply",
        "answer",
        "write",
        "respond",
        "atbild",
        "rakst",
        "correspond",
    ];
    const NAMES: [(&[&str], Language); 4] = [
        (
            &[
                "по-русски",
                "на русском",
                "орысша",
                "орыс тилинде",
                "in russian",
                "krieviski",
            ],
            Language::Ru,
        ),
        (
            &[
                "по-казахски",
                "на казахском",
                "казакша",
                "казак тилинде",
                "in kazakh",
            ],
            Language::Kk,
        ),
        (
            &[
                "по-латышски",
                "на латышском",
                "latviski",
                "latviesu valoda",
                "in latvian",
            ],
            Language::Lv,
        ),
        (
            &[
                "по-английски",
                "на английском",
                "агылшынша",
                "in english",
                "angliski",
                "anglu valoda",
            ],
            Language::En,
        ),
    ];
    for line in own.lines() {
        let line = fold(line);
        if !REPLY.iter().any(|r| line.contains(r)) {
            continue;
        }
        if let Some((_, language)) = NAMES
            .iter()
            .find(|(names, _)| names.iter().any(|n| line.contains(n)))
        {
            return Some(*language);
        }
    }
    None
}

/// Words only Kazakh has (folded, see [`fold`]) and common words only Russian has, counted
/// in Cyrillic text: `(kazakh, russian)`. A word with a Kazakh letter counts as Kazakh.
fn cyrillic_words(text: &str) -> (usize, usize) {
    const KAZAKH_PREFIXES: [&str; 8] = [
        "салеметсиз",
        "тапсырыс",
        "акша",
        "кайтар",
        "тауар",
        "толе",
        "отинемин",
        "рахмет",
    ];
    const KAZAKH: [&str; 16] = [
        "салем",
        "емес",
        "жок",
        "жане",
        "бирак",
        "керек",
        "мен",
        "сиз",
        "биз",
        "али",
        "бас",
        "тартамын",
        "кеше",
        "алмадым",
        "келмеди",
        "бе",
    ];
    const RUSSIAN: [&str; 48] = [
        "и",
        "в",
        "во",
        "не",
        "на",
        "что",
        "я",
        "с",
        "по",
        "за",
        "мне",
        "меня",
        "нам",
        "нас",
        "хочу",
        "прошу",
        "это",
        "как",
        "у",
        "вы",
        "вас",
        "вам",
        "деньги",
        "заказ",
        "пожалуйста",
        "здравствуйте",
        "добрый",
        "день",
        "спасибо",
        "уже",
        "еще",
        "но",
        "а",
        "так",
        "до",
        "от",
        "для",
        "мой",
        "если",
        "или",
        "только",
        "когда",
        "чтобы",
        "был",
        "была",
        "вернуть",
        "верните",
        "уважением",
    ];
    let mut kazakh = 0;
    let mut russian = 0;
    for word in text.split(|c: char| !c.is_alphabetic() && c != '-') {
        if word.is_empty() {
            continue;
        }
        let has_kazakh_letter = word
            .chars()
            .flat_map(char::to_lowercase)
            .any(|c| matches!(c, 'ә' | 'ғ' | 'қ' | 'ң' | 'ө' | 'ұ' | 'ү' | 'һ' | 'і'));
        let folded = fold(word);
        if has_kazakh_letter
            || KAZAKH.contains(&folded.as_str())
            || KAZAKH_PREFIXES.iter().any(|p| folded.starts_with(p))
        {
            kazakh += 1;
        } else if RUSSIAN.contains(&folded.as_str()) {
            russian += 1;
        }
    }
    (kazakh, russian)
}

/// Latvian written without diacritics (phones, old keyboards) still has its common words.
fn has_latvian_words(subject: &str, body: &str) -> bool {
    const WORDS: [&str; 12] = [
        "labdien",
        "ludzu",
        "paldies",
        "pasutijums",
        "pasutijuma",
        "atmaksa",
        "atmaksu",
        "naudu",
        "cienu",
        "sveiki",
        "rekins",
        "rekina",
    ];
    let hits = subject
        .split(|c: char| !c.is_alphanumeric())
        .chain(body.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| WORDS.iter().any(|x| w.eq_ignore_ascii_case(x)))
        .count();
    hits >= 2
}

/// The lines the sender wrote: stops at the first forwarded or quoted-reply header and skips
/// `>` quotes.
pub(super) fn own_words(body: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        let trimmed = line.trim();
        if starts_quoted_block(trimmed) {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        out.push_str(trimmed);
        out.push('\n');
    }
    out
}

/// A line that opens someone else's text: a forwarded-message banner or an "On ... wrote:"
/// attribution, in our four languages and the usual client spellings.
pub(super) fn starts_quoted_block(line: &str) -> bool {
    let lower = line.to_lowercase();
    let banner = lower.trim_matches(|c: char| c == '-' || c == ' ' || c == '=');
    const BANNERS: [&str; 8] = [
        "forwarded message",
        "original message",
        "пересылаемое сообщение",
        "исходное сообщение",
        "пересланное сообщение",
        "қайта жіберілген хат",
        "pārsūtīta ziņa",
        "sākotnējā ziņa",
    ];
    if BANNERS.iter().any(|b| banner.starts_with(b)) {
        return true;
    }
    // "On Mon, 2 Mar 2026 at 10:00, X <x@y> wrote:", "2 марта 2026 г., X написал(а):".
    let attribution_end = [
        "wrote:",
        "написал:",
        "написала:",
        "написал(а):",
        "жазды:",
        "rakstīja:",
    ];
    attribution_end.iter().any(|e| lower.ends_with(e)) && lower.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_each_language_from_its_letters() {
        assert_eq!(
            Language::guess("Возврат", "Прошу вернуть деньги за заказ."),
            Language::Ru
        );
        assert_eq!(
            Language::guess("Қайтару", "Ақшаны қайтарыңыз, өтінемін."),
            Language::Kk
        );
        assert_eq!(
            Language::guess("Atmaksa", "Lūdzu atgriezt naudu par pasūtījumu."),
            Language::Lv
        );
        assert_eq!(
            Language::guess("Refund", "Please refund my order."),
            Language::En
        );
        assert_eq!(
            Language::guess("atmaksa", "Labdien, ludzu atmaksu par pasutijumu"),
            Language::Lv
        );
    }

    #[test]
    fn kazakh_without_its_letters_and_mixed_text() {
        assert_eq!(
            Language::guess(
                "",
                "Салеметсиз бе! Курсты кеше толедим. Акшамды кайтарыныз отинемин."
            ),
            Language::Kk
        );
        assert_eq!(
            Language::guess(
                "Подписка",
                "Сәлеметсіз бе! Подписку хочу отменить, нам не подошёл конструктор. Доступ открыли 3 декабря, прошу вернуть деньги.\nРахмет"
            ),
            Language::Ru
        );
    }

    #[test]
    fn a_language_asked_for_is_the_answer_language() {
        assert_eq!(
            Language::guess(
                "",
                "Тапсырысымды болдырмаңыз, ақшаны қайтарыңыз.\nОтветьте, пожалуйста, по-русски."
            ),
            Language::Ru
        );
    }

    #[test]
    fn russian_in_latin_letters_is_russian() {
        assert_eq!(
            Language::guess(
                "vozvrat",
                "Zdravstvuyte! Hochu vernut dengi, zakaz ne prishel."
            ),
            Language::Ru
        );
    }

    #[test]
    fn quoted_text_does_not_decide() {
        let body = "Paldies, pielikumā pase.\n\nOn Mon, 2 Mar 2026, Refunds <r@shop.lv> wrote:\n> Здравствуйте! Пришлите, пожалуйста, номер заказа и причину возврата.\n";
        assert_eq!(Language::guess("Re: [RF-1A2B3C4D]", body), Language::Lv);
    }
}
