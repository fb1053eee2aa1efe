//! Plural forms of counted words in each email language, by the Unicode CLDR cardinal rules
//! for whole numbers (`common/supplemental/plurals.xml`, unicode-org/cldr):
//!
//! - Russian: `one` when n % 10 = 1 and n % 100 ≠ 11 (1, 21, 101: «день»); `few` when
//!   n % 10 = 2..4 and n % 100 ∉ 12..14 (2, 3, 22: «дня»); `many` otherwise (0, 5, 11, 14,
//!   25: «дней»).
//! - Latvian: `zero` when n % 10 = 0 or n % 100 = 11..19 (0, 10, 11, 19, 20, 100: "dienu",
//!   the genitive plural); `one` when n % 10 = 1 and n % 100 ≠ 11 (1, 21, 101: "diena");
//!   `other` otherwise (2, 9, 22: "dienas"). The word forms follow CLDR's own Latvian unit
//!   patterns (`duration-day`: zero "{0} dienu", one "{0} diena", other "{0} dienas"). So
//!   11 is "11 dienu", not "11 dienas": 11 is in CLDR's `zero` category (the gettext rule
//!   `n%10==1 && n%100!=11 ? 0 : n != 0 ? 1 : 2` puts 10-19 with 2-9; CLDR does not).
//! - Kazakh: `one` when n = 1, `other` otherwise; a noun after a numeral stays singular
//!   («1 күн», «5 күн»), so both forms are usually the same word.
//! - English: `one` when n = 1, `other` otherwise.

use super::event::Language;

/// A CLDR plural category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluralCategory {
    /// CLDR `zero` (Latvian: 0, 10, 11-19, 20, ...).
    Zero,
    /// CLDR `one` (1 in every language; also 21, 101, ... in Russian and Latvian).
    One,
    /// CLDR `few` (Russian: 2-4, 22-24, ...).
    Few,
    /// CLDR `many` (Russian: 0, 5-20, 25-30, ...).
    Many,
    /// CLDR `other`: every number without another category (Latvian, Kazakh, English).
    Other,
}

/// The CLDR cardinal category of the whole number `n` in `language`.
pub fn plural_category(language: Language, n: u64) -> PluralCategory {
    let (n10, n100) = (n % 10, n % 100);
    match language {
        Language::Ru => {
            if n10 == 1 && n100 != 11 {
                PluralCategory::One
            } else if (2..=4).contains(&n10) && !(12..=14).contains(&n100) {
                PluralCategory::Few
            } else {
                PluralCategory::Many
            }
        }
        Language::Lv => {
            if n10 == 0 || (11..=19).contains(&n100) {
                PluralCategory::Zero
            } else if n10 == 1 {
                // n100 = 11 was taken by `zero` above.
                PluralCategory::One
            } else {
                PluralCategory::Other
            }
        }
        Language::Kk | Language::En => {
            if n == 1 {
                PluralCategory::One
            } else {
                PluralCategory::Other
            }
        }
    }
}

/// The forms of one word in one language, one per category that language has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluralForms<'a> {
    /// Russian: one («день»), few («дня»), many («дней»).
    Ru {
        /// The `one` form («день»).
        one: &'a str,
        /// The `few` form («дня»).
        few: &'a str,
        /// The `many` form («дней»).
        many: &'a str,
    },
    /// Latvian: zero ("dienu"), one ("diena"), other ("dienas").
    Lv {
        /// The `zero` form ("dienu").
        zero: &'a str,
        /// The `one` form ("diena").
        one: &'a str,
        /// The `other` form ("dienas").
        other: &'a str,
    },
    /// Kazakh or English: one, other.
    OneOther {
        /// The form for 1.
        one: &'a str,
        /// The form for every other number.
        other: &'a str,
    },
}

impl<'a> PluralForms<'a> {
    /// The form for `n` in `language`.
    ///
    /// # Panics
    /// When the forms were written for another language's categories (a template bug that
    /// every snapshot test would catch at once).
    pub fn pick(&self, language: Language, n: u64) -> &'a str {
        let category = plural_category(language, n);
        match (*self, category) {
            (PluralForms::Ru { one, .. }, PluralCategory::One) => one,
            (PluralForms::Ru { few, .. }, PluralCategory::Few) => few,
            (PluralForms::Ru { many, .. }, PluralCategory::Many) => many,
            (PluralForms::Lv { zero, .. }, PluralCategory::Zero) => zero,
            (PluralForms::Lv { one, .. }, PluralCategory::One) => one,
            (PluralForms::Lv { other, .. }, PluralCategory::Other) => other,
            (PluralForms::OneOther { one, .. }, PluralCategory::One) => one,
            (PluralForms::OneOther { other, .. }, PluralCategory::Other) => other,
            (forms, category) => {
                panic!("plural forms {forms:?} have no {category:?} form for {language}")
            }
        }
    }

    /// `n` followed by its form: `count(Ru, 21)` of день/дня/дней is «21 день».
    pub fn count(&self, language: Language, n: u64) -> String {
        format!("{n} {}", self.pick(language, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_RU: PluralForms<'static> = PluralForms::Ru {
        one: "день",
        few: "дня",
        many: "дней",
    };
    const DAY_LV: PluralForms<'static> = PluralForms::Lv {
        zero: "dienu",
        one: "diena",
        other: "dienas",
    };
    const DAY_EN: PluralForms<'static> = PluralForms::OneOther {
        one: "day",
        other: "days",
    };
    const DAY_KK: PluralForms<'static> = PluralForms::OneOther {
        one: "күн",
        other: "күн",
    };

    #[test]
    fn russian_one_few_many() {
        let ru = |n| DAY_RU.count(Language::Ru, n);
        assert_eq!(ru(0), "0 дней");
        assert_eq!(ru(1), "1 день");
        assert_eq!(ru(2), "2 дня");
        assert_eq!(ru(4), "4 дня");
        assert_eq!(ru(5), "5 дней");
        assert_eq!(ru(11), "11 дней");
        assert_eq!(ru(12), "12 дней");
        assert_eq!(ru(14), "14 дней");
        assert_eq!(ru(21), "21 день");
        assert_eq!(ru(22), "22 дня");
        assert_eq!(ru(25), "25 дней");
        assert_eq!(ru(101), "101 день");
        assert_eq!(ru(111), "111 дней");
        assert_eq!(ru(112), "112 дней");
        assert_eq!(ru(1001), "1001 день");
    }

    #[test]
    fn latvian_zero_one_other_as_cldr() {
        let lv = |n| DAY_LV.count(Language::Lv, n);
        assert_eq!(lv(0), "0 dienu");
        assert_eq!(lv(1), "1 diena");
        assert_eq!(lv(2), "2 dienas");
        assert_eq!(lv(9), "9 dienas");
        assert_eq!(lv(10), "10 dienu");
        assert_eq!(lv(11), "11 dienu");
        assert_eq!(lv(19), "19 dienu");
        assert_eq!(lv(20), "20 dienu");
        assert_eq!(lv(21), "21 diena");
        assert_eq!(lv(22), "22 dienas");
        assert_eq!(lv(100), "100 dienu");
        assert_eq!(lv(101), "101 diena");
        assert_eq!(lv(111), "111 dienu");
    }

    #[test]
    fn english_and_kazakh_one_other() {
        assert_eq!(DAY_EN.count(Language::En, 0), "0 days");
        assert_eq!(DAY_EN.count(Language::En, 1), "1 day");
        assert_eq!(DAY_EN.count(Language::En, 21), "21 days");
        assert_eq!(DAY_KK.count(Language::Kk, 1), "1 күн");
        assert_eq!(DAY_KK.count(Language::Kk, 5), "5 күн");
        assert_eq!(plural_category(Language::Kk, 21), PluralCategory::Other);
    }

    #[test]
    #[should_panic(expected = "no Few form")]
    fn forms_of_the_wrong_language_are_a_bug() {
        DAY_EN.pick(Language::Ru, 3);
    }
}
