//! The fixed layouts of ICAO 9303's machine-readable zones: for every position, which
//! characters it may hold. The reader chooses each cell's character among those only, which
//! resolves look-alikes (O/0, I/1, S/5, B/8, Z/2, G/6) where a field is all digits or all
//! letters; alphanumeric fields (document numbers, optional data) are taken as read.

/// Which characters a position may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// A letter.
    Letter,
    /// A letter or the filler `<` (codes, states, names).
    LetterOrFiller,
    /// A digit (dates, check digits).
    Digit,
    /// A digit or `<` (a check digit that may be absent).
    DigitOrFiller,
    /// Any MRZ character: taken as read.
    Any,
    /// `M`, `F`, `X` or `<`.
    Sex,
}

impl Slot {
    pub fn allowed(self) -> &'static [u8] {
        match self {
            Self::Letter => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            Self::LetterOrFiller => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ<",
            Self::Digit => b"0123456789",
            Self::DigitOrFiller => b"0123456789<",
            Self::Any => crate::glyphs::ALPHABET,
            Self::Sex => b"MFX<",
        }
    }
}

/// An MRZ size (ICAO 9303 parts 4-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// ID cards: 3 lines of 30.
    Td1,
    /// Larger ID cards and visas: 2 lines of 36.
    Td2,
    /// Passports: 2 lines of 44.
    Td3,
}

impl Format {
    /// Lines and characters per line.
    pub fn shape(self) -> (usize, usize) {
        match self {
            Self::Td1 => (3, 30),
            Self::Td2 => (2, 36),
            Self::Td3 => (2, 44),
        }
    }

    /// `"TD1"`, `"TD2"` or `"TD3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Td1 => "TD1",
            Self::Td2 => "TD2",
            Self::Td3 => "TD3",
        }
    }

    /// The range of the name field in its line: (line, start, end).
    pub fn name_field(self) -> (usize, usize, usize) {
        match self {
            Self::Td1 => (2, 0, 30),
            Self::Td2 => (0, 5, 36),
            Self::Td3 => (0, 5, 44),
        }
    }

    pub(crate) fn slots(self, line: usize) -> Vec<Slot> {
        use Slot::*;
        let mut s = Vec::new();
        let mut put = |slot: Slot, n: usize| s.extend(std::iter::repeat_n(slot, n));
        let header = |put: &mut dyn FnMut(Slot, usize)| {
            put(Letter, 1);
            put(LetterOrFiller, 1);
            put(LetterOrFiller, 3);
        };
        // The second line of TD2 and TD3: number, nationality, dates, optional data.
        let data_line =
            |put: &mut dyn FnMut(Slot, usize), optional: usize, optional_check: bool| {
                put(Any, 9);
                put(Digit, 1);
                put(LetterOrFiller, 3);
                put(Digit, 7);
                put(Sex, 1);
                put(Digit, 7);
                put(Any, optional);
                if optional_check {
                    put(DigitOrFiller, 1);
                }
                put(Digit, 1);
            };
        match (self, line) {
            (Self::Td3, 0) => {
                header(&mut put);
                put(LetterOrFiller, 39);
            }
            (Self::Td3, _) => data_line(&mut put, 14, true),
            (Self::Td2, 0) => {
                header(&mut put);
                put(LetterOrFiller, 31);
            }
            (Self::Td2, _) => data_line(&mut put, 7, false),
            (Self::Td1, 0) => {
                header(&mut put);
                put(Any, 9);
                put(DigitOrFiller, 1);
                put(Any, 15);
            }
            (Self::Td1, 1) => {
                put(Digit, 7);
                put(Sex, 1);
                put(Digit, 7);
                put(LetterOrFiller, 3);
                put(Any, 11);
                put(Digit, 1);
            }
            (Self::Td1, _) => put(LetterOrFiller, 30),
        }
        s
    }
}

/// Whether a name field has the exact structure ICAO prescribes: primary identifier, then
/// optionally `<<` and the secondary identifier; components separated by one `<`; only
/// fillers after the name. Names carry no check digit, so a reading that breaks this
/// structure is not trusted.
pub fn name_structure_is_exact(field: &str) -> bool {
    let name = field.trim_end_matches('<');
    if name.is_empty()
        || name.starts_with('<')
        || !name.bytes().all(|b| b == b'<' || b.is_ascii_uppercase())
    {
        return false;
    }
    let mut parts = name.splitn(2, "<<");
    let primary = parts.next().unwrap_or_default();
    let secondary = parts.next();
    let components_ok = |s: &str| !s.is_empty() && s.split('<').all(|c| !c.is_empty());
    components_ok(primary) && secondary.is_none_or(components_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_has_the_icao_line_length() {
        for format in [Format::Td1, Format::Td2, Format::Td3] {
            let (lines, len) = format.shape();
            for line in 0..lines {
                assert_eq!(format.slots(line).len(), len, "{format:?} line {line}");
            }
        }
    }

    #[test]
    fn check_digits_and_dates_are_digit_slots() {
        let td3 = Format::Td3.slots(1);
        for i in [9, 13, 18, 19, 21, 26, 27, 43] {
            assert_eq!(td3[i], Slot::Digit, "TD3 line 2 position {i}");
        }
        assert_eq!(td3[42], Slot::DigitOrFiller);
        assert_eq!(td3[20], Slot::Sex);
        let td1 = Format::Td1.slots(1);
        for i in [0, 5, 6, 8, 13, 14, 29] {
            assert_eq!(td1[i], Slot::Digit, "TD1 line 2 position {i}");
        }
        assert_eq!(Format::Td1.slots(0)[14], Slot::DigitOrFiller);
        assert_eq!(Format::Td2.slots(1)[35], Slot::Digit);
    }

    #[test]
    fn only_exactly_structured_names_pass() {
        for good in [
            "IVANOVA<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<<",
            "BERZINA<LIEPA<<ANNA<MARIJA<<<<<<<<<<<<<",
            "NURLANULY<<<<<<<<<<<<<<<<<<<<<",
            "O<NEIL<<SEAN",
        ] {
            assert!(name_structure_is_exact(good), "{good}");
        }
        for bad in [
            "IVANOVA<<<ANNA<<<<<<<<<<<<<",
            "IVANOVA<<ANNA<<<<<<<K<<<<<<",
            "<IVANOVA<<ANNA<<<<<<<<<<<<<",
            "IVANOVA<<ANNA<<PETROVNA<<<<",
            "IVAN0VA<<ANNA<<<<<<<<<<<<<<",
            "<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
        ] {
            assert!(!name_structure_is_exact(bad), "{bad}");
        }
    }
}
