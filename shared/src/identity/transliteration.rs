//! Transliteration of names into the Latin capitals of an MRZ, as ICAO 9303 part 3 does:
//! Cyrillic (Russian, Belarusian, Ukrainian), the Kazakh Cyrillic letters, and Latin
//! letters with diacritics (Latvian ā, č, ģ, ķ, ļ, ņ, š, ž...).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Transliterates a name to ICAO 9303 Latin capitals: `Bērziņš Jānis` → `BERZINS JANIS`,
/// `Сергей Иванов` → `SERGEI IVANOV`, `Әлихан Нұрланұлы` → `ALIKHAN NURLANULY`.
///
/// Apostrophes are dropped (`O'Neil` → `ONEIL`); every other character that is not a
/// letter becomes a space, and runs of spaces collapse, so the result is words separated
/// by single spaces. Letters of scripts without a table here are dropped.
pub fn to_icao_latin(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.nfc() {
        if matches!(c, '\'' | '’' | 'ʼ' | '`' | 'ʻ') {
            continue;
        }
        if let Some(latin) = cyrillic(c) {
            out.push_str(latin);
        } else if let Some(latin) = special_latin(c) {
            out.push_str(latin);
        } else if c.is_alphabetic() {
            // Latin with diacritics: decompose and keep the base letter.
            for part in c.to_uppercase().nfd().filter(|p| !is_combining_mark(*p)) {
                if part.is_ascii_uppercase() {
                    out.push(part);
                }
            }
        } else {
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// ICAO 9303 part 3 table for Cyrillic, extended with the Kazakh letters as Kazakhstan
/// writes them in passports.
fn cyrillic(c: char) -> Option<&'static str> {
    let upper = c.to_uppercase().next().unwrap_or(c);
    Some(match upper {
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' => "G",
        'Ґ' => "G",
        'Ѓ' => "G",
        'Д' => "D",
        'Ђ' => "D",
        'Е' => "E",
        'Ё' => "E",
        'Є' => "IE",
        'Ж' => "ZH",
        'З' => "Z",
        'Ѕ' => "DZ",
        'И' => "I",
        'І' => "I",
        'Ї' => "I",
        'Й' => "I",
        'Ј' => "J",
        'К' => "K",
        'Ќ' => "K",
        'Л' => "L",
        'Љ' => "LJ",
        'М' => "M",
        'Н' => "N",
        'Њ' => "NJ",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'Ћ' => "C",
        'У' => "U",
        'Ў' => "U",
        'Ф' => "F",
        'Х' => "KH",
        'Ц' => "TS",
        'Ч' => "CH",
        'Џ' => "DZ",
        'Ш' => "SH",
        'Щ' => "SHCH",
        'Ъ' => "IE",
        'Ы' => "Y",
        'Ь' => "",
        'Э' => "E",
        'Ю' => "IU",
        'Я' => "IA",
        // Kazakh
        'Ә' => "A",
        'Ғ' => "G",
        'Қ' => "K",
        'Ң' => "N",
        'Ө' => "O",
        'Ұ' => "U",
        'Ү' => "U",
        'Һ' => "H",
        _ => return None,
    })
}

/// Latin letters that do not decompose into a base letter plus marks.
fn special_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'Ä' | 'ä' => "AE",
        'Ö' | 'ö' => "OE",
        'Ü' | 'ü' => "UE",
        'Å' | 'å' => "AA",
        'Æ' | 'æ' => "AE",
        'Ø' | 'ø' => "OE",
        'Œ' | 'œ' => "OE",
        'ß' | 'ẞ' => "SS",
        'Þ' | 'þ' => "TH",
        'Ł' | 'ł' => "L",
        'Đ' | 'đ' => "D",
        'Ħ' | 'ħ' => "H",
        'ı' => "I",
        'Ŀ' | 'ŀ' => "L",
        'Ĳ' | 'ĳ' => "IJ",
        'Ŋ' | 'ŋ' => "N",
        'Ŧ' | 'ŧ' => "T",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::to_icao_latin;

    #[test]
    fn russian_follows_the_icao_table() {
        assert_eq!(to_icao_latin("Сергей Иванов"), "SERGEI IVANOV");
        assert_eq!(to_icao_latin("Юлия Щербакова"), "IULIIA SHCHERBAKOVA");
        assert_eq!(to_icao_latin("Фёдор Хабибуллин"), "FEDOR KHABIBULLIN");
        assert_eq!(to_icao_latin("Подъячев"), "PODIEIACHEV");
    }

    #[test]
    fn belarusian_letters_are_covered() {
        assert_eq!(to_icao_latin("Сяргей Іваноў"), "SIARGEI IVANOU");
    }

    #[test]
    fn kazakh_letters_are_covered() {
        assert_eq!(to_icao_latin("Әлихан Нұрланұлы"), "ALIKHAN NURLANULY");
        assert_eq!(to_icao_latin("Сейткали Айгерим"), "SEITKALI AIGERIM");
        assert_eq!(to_icao_latin("Ғалым Қасымов"), "GALYM KASYMOV");
    }

    #[test]
    fn latvian_diacritics_are_dropped() {
        assert_eq!(to_icao_latin("Bērziņš Jānis"), "BERZINS JANIS");
        assert_eq!(to_icao_latin("Ķēniņa Līga Ļuļa"), "KENINA LIGA LULA");
    }

    #[test]
    fn decomposed_input_gives_the_same_answer() {
        let decomposed: String = "Bērziņš Йосиф".chars().collect::<String>();
        let nfd = unicode_normalization::UnicodeNormalization::nfd(decomposed.as_str())
            .collect::<String>();
        assert_eq!(to_icao_latin(&nfd), "BERZINS IOSIF");
    }

    #[test]
    fn punctuation_separates_words_and_apostrophes_vanish() {
        assert_eq!(to_icao_latin("  o'neil,  anna-maria "), "ONEIL ANNA MARIA");
        assert_eq!(to_icao_latin("Müller"), "MUELLER");
    }
}
