//! Identity-document checks as a caller sees them: ICAO 9303 specimens with each check
//! digit broken in turn, national numbers computed by hand, names across scripts, files
//! from their first bytes, and the whole check with its consistency rules.

use chrono::NaiveDate;
use shared::identity::file::{FileKind, FileLimits, inspect, inspect_with};
use shared::identity::mrz::{self, MrzError, MrzField, MrzFormat, Sex};
use shared::identity::national::{
    ByPersonalNumber, ByPersonalNumberError, Iin, IinError, LvPersonalCode, LvPersonalCodeError,
    RuPassport,
};
use shared::identity::{
    DocumentInput, Expectation, ProblemCode, check, mask_document_number, match_names,
};

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

const TD3_LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
const TD3_LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";
const TD1: [&str; 3] = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
];

/// Replaces the character at `index` (0-based) of `line`.
fn with_char(line: &str, index: usize, replacement: char) -> String {
    line.char_indices()
        .map(|(i, c)| if i == index { replacement } else { c })
        .collect()
}

/// Adds 1 (mod 10) to the digit at `index`.
fn bump_digit(line: &str, index: usize) -> String {
    let digit = line.as_bytes()[index] - b'0';
    with_char(line, index, char::from(b'0' + (digit + 1) % 10))
}

fn failed_fields(text: &str) -> Vec<MrzField> {
    let rejected = mrz::parse(text).expect_err("the MRZ should be refused");
    rejected
        .0
        .iter()
        .map(|error| match error {
            MrzError::CheckDigit { field, .. } => *field,
            other => panic!("expected only check digit errors, got {other:?}"),
        })
        .collect()
}

mod mrz_td3 {
    use super::*;

    #[test]
    fn the_icao_specimen_passport_parses_into_its_printed_fields() {
        let mrz = mrz::parse(&format!("{TD3_LINE1}\n{TD3_LINE2}")).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td3);
        assert_eq!(mrz.document_code, "P");
        assert_eq!(mrz.issuing_state, "UTO");
        assert_eq!(mrz.surname, "ERIKSSON");
        assert_eq!(mrz.given_names, "ANNA MARIA");
        assert_eq!(mrz.document_number.as_str(), "L898902C3");
        assert_eq!(mrz.nationality, "UTO");
        assert_eq!(mrz.birth_date, date("1974-08-12"));
        assert_eq!(mrz.sex, Sex::Female);
        assert_eq!(mrz.expiry_date, date("2012-04-15"));
        assert_eq!(mrz.optional_data, "ZE184226B");
        assert_eq!(mrz.full_name(), "ERIKSSON ANNA MARIA");
    }

    #[test]
    fn each_broken_check_digit_is_named_and_breaks_the_composite_too() {
        // (position of the check digit, the field it protects)
        for (index, field) in [
            (9, MrzField::DocumentNumber),
            (19, MrzField::BirthDate),
            (27, MrzField::ExpiryDate),
            (42, MrzField::OptionalData),
        ] {
            let broken = bump_digit(TD3_LINE2, index);
            assert_eq!(
                failed_fields(&format!("{TD3_LINE1}\n{broken}")),
                vec![field, MrzField::Composite],
                "check digit at {index}"
            );
        }
        let broken = bump_digit(TD3_LINE2, 43);
        assert_eq!(
            failed_fields(&format!("{TD3_LINE1}\n{broken}")),
            vec![MrzField::Composite]
        );
    }

    #[test]
    fn altered_data_is_caught_by_its_check_digit() {
        // Birth year 74 -> 75: the birth date digit and the composite both fail.
        let altered = bump_digit(TD3_LINE2, 14);
        assert_eq!(
            failed_fields(&format!("{TD3_LINE1}\n{altered}")),
            vec![MrzField::BirthDate, MrzField::Composite]
        );
    }

    #[test]
    fn problems_carry_stable_codes_and_plain_messages() {
        let broken = bump_digit(TD3_LINE2, 27);
        let problems = mrz::parse(&format!("{TD3_LINE1}\n{broken}"))
            .unwrap_err()
            .problems();
        assert_eq!(problems[0].code.as_str(), "mrz_check_digit");
        assert_eq!(problems[0].field, "expiry_date");
        assert!(
            problems[0].message.contains("expiry date"),
            "{}",
            problems[0].message
        );
        assert_eq!(problems[1].field, "composite");
    }

    #[test]
    fn empty_personal_number_may_have_a_filler_or_zero_check_digit() {
        for check in ['<', '0'] {
            // Same specimen with the optional data emptied; composite recomputed.
            let mut line2 = format!("{}{}{}", &TD3_LINE2[..28], "<".repeat(14), check);
            let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
            line2.push(char::from(b'0' + mrz::check_digit(&composite).unwrap()));
            let mrz = mrz::parse(&format!("{TD3_LINE1}\n{line2}")).unwrap();
            assert_eq!(mrz.optional_data, "");
        }
    }

    #[test]
    fn tolerates_what_people_paste() {
        let messy = format!(
            "\r\n  {}\r\n {} \n\n",
            TD3_LINE1.to_lowercase(),
            TD3_LINE2.replace("UTO", "U TO")
        );
        assert_eq!(mrz::parse(&messy).unwrap().surname, "ERIKSSON");
        let one_line = format!("{TD3_LINE1}{TD3_LINE2}");
        assert_eq!(mrz::parse(&one_line).unwrap().format, MrzFormat::Td3);
    }

    #[test]
    fn wrong_shapes_are_layout_problems() {
        let short = &TD3_LINE2[..43];
        let problems = mrz::parse(&format!("{TD3_LINE1}\n{short}"))
            .unwrap_err()
            .problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, ProblemCode::MrzLayout);
        assert!(problems[0].message.contains("43 characters"));

        let one = mrz::parse(TD3_LINE1).unwrap_err().problems();
        assert_eq!(one[0].code, ProblemCode::MrzLayout);

        let odd_char = with_char(TD3_LINE2, 5, '#');
        let problems = mrz::parse(&format!("{TD3_LINE1}\n{odd_char}"))
            .unwrap_err()
            .problems();
        assert_eq!(problems[0].code, ProblemCode::MrzLayout);
        assert!(problems[0].message.contains("position 6"));
    }

    #[test]
    fn a_visa_code_on_a_passport_line_is_refused() {
        let visa = with_char(TD3_LINE1, 0, 'V');
        let problems = mrz::parse(&format!("{visa}\n{TD3_LINE2}"))
            .unwrap_err()
            .problems();
        assert_eq!(problems[0].code, ProblemCode::MrzLayout);
        assert_eq!(problems[0].field, "document_code");
    }

    #[test]
    fn an_impossible_date_with_a_correct_check_digit_is_a_date_problem() {
        // Birth month 13: fix the birth check digit and the composite to match.
        let mut line2: String = format!("{}13{}", &TD3_LINE2[..15], &TD3_LINE2[17..]);
        let birth_cd = mrz::check_digit(&line2[13..19]).unwrap();
        line2 = with_char(&line2, 19, char::from(b'0' + birth_cd));
        let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
        line2 = with_char(
            &line2,
            43,
            char::from(b'0' + mrz::check_digit(&composite).unwrap()),
        );
        let problems = mrz::parse(&format!("{TD3_LINE1}\n{line2}"))
            .unwrap_err()
            .problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code, ProblemCode::MrzDate);
        assert_eq!(problems[0].field, "birth_date");
    }

    #[test]
    fn debug_output_masks_the_document_number() {
        let mrz = mrz::parse(&format!("{TD3_LINE1}\n{TD3_LINE2}")).unwrap();
        let debug = format!("{mrz:?}");
        assert!(!debug.contains("L898902C3"), "{debug}");
        assert!(debug.contains("L8***C3"), "{debug}");
        assert!(!debug.contains("ZE184226B"), "{debug}");
    }
}

mod mrz_td1 {
    use super::*;

    #[test]
    fn the_icao_specimen_id_card_parses() {
        let mrz = mrz::parse(&TD1.join("\n")).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td1);
        assert_eq!(mrz.document_code, "I");
        assert_eq!(mrz.document_number.as_str(), "D23145890");
        assert_eq!(mrz.birth_date, date("1974-08-12"));
        assert_eq!(mrz.expiry_date, date("2012-04-15"));
        assert_eq!(mrz.nationality, "UTO");
        assert_eq!(mrz.surname, "ERIKSSON");
        assert_eq!(mrz.given_names, "ANNA MARIA");
    }

    #[test]
    fn each_broken_check_digit_is_named() {
        let cases = [
            (0, 14, vec![MrzField::DocumentNumber, MrzField::Composite]),
            (1, 6, vec![MrzField::BirthDate, MrzField::Composite]),
            (1, 14, vec![MrzField::ExpiryDate, MrzField::Composite]),
            (1, 29, vec![MrzField::Composite]),
        ];
        for (line, index, expected) in cases {
            let mut lines = TD1.map(str::to_owned);
            lines[line] = bump_digit(&lines[line], index);
            assert_eq!(
                failed_fields(&lines.join("\n")),
                expected,
                "line {line} index {index}"
            );
        }
    }

    #[test]
    fn a_long_document_number_continues_in_the_optional_data() {
        // ICAO 9303-5 example: D23145890734, check digit 9, continued after a filler at 15.
        let text = [
            "I<UTOD23145890<7349<<<<<<<<<<<",
            "7408122F1204159UTO<<<<<<<<<<<6",
            TD1[2],
        ]
        .join("\n");
        let mrz = mrz::parse(&text).unwrap();
        assert_eq!(mrz.document_number.as_str(), "D23145890734");
        assert_eq!(mrz.optional_data, "");

        let broken = text.replacen("7349", "7348", 1);
        let fields = failed_fields(&broken);
        assert!(fields.contains(&MrzField::DocumentNumber), "{fields:?}");
    }

    #[test]
    fn a_long_number_marker_without_continuation_is_a_layout_problem() {
        let text = [
            "I<UTOD23145890<<<<<<<<<<<<<<<<",
            "7408122F1204159UTO<<<<<<<<<<<6",
            TD1[2],
        ]
        .join("\n");
        let problems = mrz::parse(&text).unwrap_err().problems();
        assert!(
            problems
                .iter()
                .any(|p| p.code == ProblemCode::MrzLayout && p.field == "document_number"),
            "{problems:?}"
        );
    }
}

/// ICAO 9303-6, appendix: the TD2 specimen.
const TD2: [&str; 2] = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
];

mod mrz_td2 {
    use super::*;

    #[test]
    fn the_icao_specimen_parses_into_its_printed_fields() {
        let mrz = mrz::parse(&TD2.join("\n")).unwrap();
        assert_eq!(mrz.format, MrzFormat::Td2);
        assert_eq!(mrz.document_code, "I");
        assert_eq!(mrz.document_number.as_str(), "D23145890");
        assert_eq!(
            (mrz.surname.as_str(), mrz.given_names.as_str()),
            ("ERIKSSON", "ANNA MARIA")
        );
        assert_eq!(mrz.birth_date, date("1974-08-12"));
        assert_eq!(mrz.expiry_date, date("2012-04-15"));
        assert_eq!(mrz.sex, Sex::Female);
        assert_eq!(mrz.optional_data, "");
        assert_eq!(mrz::parse(&TD2.concat()).unwrap().format, MrzFormat::Td2);
    }

    #[test]
    fn each_broken_check_digit_is_named() {
        for (index, field) in [
            (9, MrzField::DocumentNumber),
            (19, MrzField::BirthDate),
            (27, MrzField::ExpiryDate),
        ] {
            let broken = bump_digit(TD2[1], index);
            assert_eq!(
                failed_fields(&format!("{}\n{broken}", TD2[0])),
                vec![field, MrzField::Composite],
                "position {index}"
            );
        }
        let broken = bump_digit(TD2[1], 35);
        assert_eq!(
            failed_fields(&format!("{}\n{broken}", TD2[0])),
            vec![MrzField::Composite]
        );
    }
}

mod national {
    use super::*;

    #[test]
    fn a_valid_iin_gives_birth_date_and_sex() {
        // 9·1+0·2+0·3+5·4+1·5+2·6+4·7+0·8+0·9+1·10+2·11 = 106; 106 mod 11 = 7.
        let iin = Iin::parse("900512400127").unwrap();
        assert_eq!(iin.birth_date(), date("1990-05-12"));
        assert_eq!(iin.sex(), Sex::Female);
        let iin = Iin::parse("850102 300219").unwrap();
        assert_eq!(iin.birth_date(), date("1985-01-02"));
        assert_eq!(iin.sex(), Sex::Male);
        // Second pass: 109 ≡ 10, then 24+20+6+16+27+1+8 = 102 ≡ 3.
        assert!(Iin::parse("850102300143").is_ok());
        // 7th digit 6: a girl born in the 2000s.
        assert_eq!(
            Iin::parse("020303600347").unwrap().birth_date(),
            date("2002-03-03")
        );
    }

    #[test]
    fn the_iin_control_digit_uses_the_second_weight_pass_when_the_first_gives_10() {
        // First pass: 9+0+0+20+5+12+28+0+0+90+0 = 164 ≡ 10 (mod 11).
        // Second pass (3..11,1,2): 27+0+0+30+7+16+36+0+0+9+0 = 125 ≡ 4.
        assert!(Iin::parse("900512400904").is_ok());
        assert!(matches!(
            Iin::parse("900512400900"),
            Err(IinError::ControlDigit { .. })
        ));
    }

    #[test]
    fn invalid_iins_are_named() {
        assert!(matches!(
            Iin::parse("900512400128"),
            Err(IinError::ControlDigit { .. })
        ));
        // Both passes give 10: no such IIN can be issued.
        assert!(matches!(
            Iin::parse("900512400930"),
            Err(IinError::NotIssuable { .. })
        ));
        assert!(matches!(
            Iin::parse("901312400127"),
            Err(IinError::BirthDate { .. })
        ));
        assert!(matches!(
            Iin::parse("900512700127"),
            Err(IinError::CenturyDigit { digit: 7 })
        ));
        assert!(matches!(Iin::parse("90051240012"), Err(IinError::Format)));
        assert!(matches!(Iin::parse("90051240012X"), Err(IinError::Format)));
        let problem = Iin::parse("900512400128").unwrap_err().problem();
        assert_eq!(problem.code.as_str(), "iin_control_digit");
        assert!(
            !problem.message.contains("900512400128"),
            "{}",
            problem.message
        );
        assert_eq!(
            Iin::parse("901312400127")
                .unwrap_err()
                .problem()
                .code
                .as_str(),
            "iin_birth_date"
        );
    }

    #[test]
    fn belarus_personal_numbers() {
        // 7-3-1 weights, A=10, P=25, B=11 over 3310589A012PB: 132 -> check digit 2.
        let number = ByPersonalNumber::parse("3310589A012PB2").unwrap();
        assert_eq!(number.birth_date(), date("1989-05-31"));
        assert_eq!(number.sex(), Sex::Male);
        // Typed with Cyrillic А, Р, В and lowercase.
        assert!(ByPersonalNumber::parse("3310589а012РВ2").is_ok());
        assert!(matches!(
            ByPersonalNumber::parse("3310589A012PB3"),
            Err(ByPersonalNumberError::CheckDigit { .. })
        ));
        assert!(matches!(
            ByPersonalNumber::parse("3320589A012PB2"),
            Err(ByPersonalNumberError::BirthDate { .. })
        ));
        assert!(matches!(
            ByPersonalNumber::parse("3310589A01PB2"),
            Err(ByPersonalNumberError::Format)
        ));
        assert_eq!(
            ByPersonalNumber::parse("3310589A012PB3")
                .unwrap_err()
                .problem()
                .code
                .as_str(),
            "personal_number_check"
        );
    }

    #[test]
    fn latvian_personal_codes_old_and_new() {
        // 1·1+2·6+1·3+2·7+8·9+2·10+1·5+1·8+2·4+1·2 = 145; (1101-145) mod 11 = 0.
        let old = LvPersonalCode::parse("121282-11210").unwrap();
        assert_eq!(old.birth_date(), Some(date("1982-12-12")));
        assert!(!old.is_new_form());
        assert!(LvPersonalCode::parse("12128211210").is_ok());
        assert!(matches!(
            LvPersonalCode::parse("121282-11211"),
            Err(LvPersonalCodeError::CheckDigit { .. })
        ));
        assert!(matches!(
            LvPersonalCode::parse("311182-11210"),
            Err(LvPersonalCodeError::BirthDate { .. })
        ));
        let new = LvPersonalCode::parse("321234-56789").unwrap();
        assert!(new.is_new_form());
        assert_eq!(new.birth_date(), None);
        assert!(matches!(
            LvPersonalCode::parse("32123-456789"),
            Err(LvPersonalCodeError::Format)
        ));
        assert!(matches!(
            LvPersonalCode::parse("3212345678"),
            Err(LvPersonalCodeError::Format)
        ));
    }

    #[test]
    fn russian_passport_format_only() {
        let passport = RuPassport::parse("45 06 123456").unwrap();
        assert_eq!(passport.series(), "4506");
        assert_eq!(passport.number(), "123456");
        assert_eq!(passport.masked(), "45***56");
        assert!(RuPassport::parse("4506 №123456").is_ok());
        assert!(RuPassport::parse("4506 12345").is_err());
        assert!(RuPassport::parse("45O6 123456").is_err());
        assert_eq!(
            RuPassport::parse("4506")
                .unwrap_err()
                .problem()
                .code
                .as_str(),
            "document_number_format"
        );
    }

    #[test]
    fn debug_output_masks_numbers() {
        let debug = format!(
            "{:?} {:?} {:?} {:?}",
            Iin::parse("900512400127").unwrap(),
            ByPersonalNumber::parse("3310589A012PB2").unwrap(),
            LvPersonalCode::parse("121282-11210").unwrap(),
            RuPassport::parse("4506123456").unwrap()
        );
        for full in [
            "900512400127",
            "3310589A012PB2",
            "12128211210",
            "4506123456",
        ] {
            assert!(!debug.contains(full), "{debug}");
        }
        assert_eq!(mask_document_number("N0123423"), "N0***23");
    }
}

mod names {
    use super::*;

    #[test]
    fn the_same_person_across_scripts_matches() {
        for (a, b) in [
            ("Сейткали Айгерим", "SEITKALI AIGERIM"),
            ("Bērziņš Jānis", "BERZINS JANIS"),
            ("Сергей Иванов", "IVANOU SIARHEI"),
            ("Иванов Сергей Петрович", "IVANOV SERGEI"),
            ("Anna Eriksson", "ERIKSSON ANNA MARIA"),
            ("A. ERIKSSON", "ERIKSSON ANNA MARIA"),
            ("Юлия Смирнова", "SMIRNOVA YULIYA"),
            ("Александр Ковалёв", "KAVALIOU ALIAKSANDR"),
        ] {
            let result = match_names(a, b);
            assert!(result.matched, "{a} ↔ {b}: {result:?}");
            assert!(
                result.score >= 0.85 && result.score <= 1.0,
                "{a} ↔ {b}: {result:?}"
            );
        }
        assert_eq!(match_names("Bērziņš Jānis", "BERZINS JANIS").score, 1.0);
    }

    #[test]
    fn different_people_do_not_match() {
        for (a, b) in [
            ("Сергей Иванов", "PETROV ALEKSANDR"),
            ("Сергей Иванов", "IVANOV PETR"),
            ("Bērziņš Jānis", "OZOLS JANIS"),
            ("Сейткали Айгерим", "SEITKALI NURLAN"),
            ("Иванов", "IVANOV SERGEI"),
            ("", "IVANOV SERGEI"),
            ("John Smith", "ERIKSSON ANNA MARIA"),
        ] {
            let result = match_names(a, b);
            assert!(!result.matched, "{a} ↔ {b}: {result:?}");
        }
    }

    #[test]
    fn word_order_does_not_matter() {
        assert_eq!(
            match_names("Айгерим Сейткали", "SEITKALI AIGERIM"),
            match_names("Сейткали Айгерим", "SEITKALI AIGERIM")
        );
    }
}

mod files {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
        data.extend(13u32.to_be_bytes());
        data.extend(b"IHDR");
        data.extend(width.to_be_bytes());
        data.extend(height.to_be_bytes());
        data.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
        data
    }

    fn jpeg(width: u16, height: u16) -> Vec<u8> {
        let mut data = vec![0xFF, 0xD8];
        // APP0 (JFIF) segment of 16 bytes, then a DQT stub, then SOF0.
        data.extend([0xFF, 0xE0, 0x00, 0x10]);
        data.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        data.extend([0xFF, 0xDB, 0x00, 0x04, 0x00, 0x00]);
        data.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
        data.extend(height.to_be_bytes());
        data.extend(width.to_be_bytes());
        data.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        data.extend([0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]);
        data
    }

    fn pdf(pages: usize, encrypted: bool) -> Vec<u8> {
        let mut body =
            String::from("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
        let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", i + 3)).collect();
        body.push_str(&format!(
            "2 0 obj\n<< /Type /Pages /Kids [{}] /Count {} >>\nendobj\n",
            kids.join(" "),
            pages
        ));
        for i in 0..pages {
            body.push_str(&format!(
                "{} 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>\nendobj\n",
                i + 3
            ));
        }
        let encrypt = if encrypted { " /Encrypt 99 0 R" } else { "" };
        body.push_str(&format!("trailer\n<< /Root 1 0 R{encrypt} >>\n%%EOF\n"));
        body.into_bytes()
    }

    fn codes(data: &[u8]) -> Vec<&'static str> {
        inspect(data)
            .unwrap_err()
            .iter()
            .map(|p| p.code.as_str())
            .collect()
    }

    #[test]
    fn images_are_recognised_with_their_size() {
        let info = inspect(&png(1200, 800)).unwrap();
        assert_eq!(info.kind, FileKind::Png);
        assert_eq!(info.dimensions, Some((1200, 800)));
        let info = inspect(&jpeg(800, 1200)).unwrap();
        assert_eq!(info.kind, FileKind::Jpeg);
        assert_eq!(info.dimensions, Some((800, 1200)));
    }

    #[test]
    fn images_too_small_to_read_are_refused() {
        assert_eq!(codes(&png(320, 240)), ["image_too_small"]);
        assert_eq!(codes(&jpeg(1000, 399)), ["image_too_small"]);
        let problems = inspect(&png(320, 240)).unwrap_err();
        assert!(problems[0].message.contains("320 × 240"));
    }

    #[test]
    fn pdfs_are_counted_and_limited() {
        assert_eq!(inspect(&pdf(2, false)).unwrap().pages, Some(2));
        assert_eq!(inspect(&pdf(5, false)).unwrap().pages, Some(5));
        assert_eq!(codes(&pdf(6, false)), ["pdf_too_many_pages"]);
        assert_eq!(codes(&pdf(1, true)), ["pdf_encrypted"]);
        let problems = inspect(&pdf(1, true)).unwrap_err();
        assert!(problems[0].message.contains("password"));
    }

    #[test]
    fn the_page_tree_count_is_used_when_pages_are_not_all_visible() {
        // A /Pages node saying 12 with only one leaf written out uncompressed.
        let text = "%PDF-1.5\n2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 12>>\nendobj\n3 0 obj\n<</Type/Page>>\nendobj\n%%EOF";
        assert_eq!(codes(text.as_bytes()), ["pdf_too_many_pages"]);
    }

    #[test]
    fn heic_and_other_types_are_refused_with_a_reason() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend(b"ftypheic\0\0\0\0mif1heic");
        let problems = inspect(&heic).unwrap_err();
        assert_eq!(problems[0].code.as_str(), "file_heic");
        assert!(problems[0].message.contains("JPEG"));
        assert_eq!(codes(b"GIF89a\x01\x00\x01\x00"), ["file_type_unsupported"]);
        assert_eq!(codes(b"PK\x03\x04 a docx"), ["file_type_unsupported"]);
        assert_eq!(codes(b""), ["file_empty"]);
    }

    #[test]
    fn size_limit_applies() {
        let limits = FileLimits {
            max_bytes: 100,
            ..FileLimits::default()
        };
        let mut big = png(1200, 800);
        big.resize(101, 0);
        let problems = inspect_with(&big, &limits).unwrap_err();
        assert_eq!(problems[0].code.as_str(), "file_too_large");
    }

    #[test]
    fn truncated_images_are_damaged_not_a_panic() {
        assert_eq!(codes(&png(1200, 800)[..18]), ["file_damaged"]);
        assert_eq!(codes(&jpeg(800, 1200)[..30]), ["file_damaged"]);
        assert_eq!(codes(&[0xFF, 0xD8, 0xFF]), ["file_damaged"]);
    }
}

mod whole_check {
    use super::*;

    const KZ_PASSPORT: &str = "P<KAZSEITKALI<<AIGERIM<<<<<<<<<<<<<<<<<<<<<<\nN123456785KAZ9005123F3001019900512400127<<14";
    const BY_PASSPORT: &str = "PPBLRIVANOU<<SIARHEI<<<<<<<<<<<<<<<<<<<<<<<<\nMP12345677BLR8905318M31022043310589A012PB284";
    const LV_PASSPORT: &str = "PNLVABERZINS<<JANIS<<<<<<<<<<<<<<<<<<<<<<<<<\nLV12345678LVA8212122M290315012128211210<<<30";

    fn codes(report: &shared::identity::CheckReport) -> Vec<&'static str> {
        report.problems.iter().map(|p| p.code.as_str()).collect()
    }

    #[test]
    fn a_consistent_kazakh_passport_is_valid() {
        let input = DocumentInput {
            mrz: Some(KZ_PASSPORT.to_owned()),
            country: Some("KZ".to_owned()),
            personal_number: Some("900512400127".to_owned()),
            birth_date: Some(date("1990-05-12")),
            holder_name: Some("Сейткали Айгерим".to_owned()),
            ..DocumentInput::default()
        };
        let expect = Expectation {
            name: Some("Aigerim Seitkali".to_owned()),
            on: Some(date("2026-11-21")),
        };
        let report = check(&input, &expect);
        assert!(report.valid, "{:?}", report.problems);
        assert!(report.name_match.unwrap().matched);
        assert_eq!(report.masked_number().as_deref(), Some("N1***78"));
    }

    #[test]
    fn the_iin_is_taken_from_the_mrz_when_not_typed() {
        let report = check(
            &DocumentInput {
                mrz: Some(KZ_PASSPORT.to_owned()),
                birth_date: Some(date("1990-05-13")),
                ..DocumentInput::default()
            },
            &Expectation::default(),
        );
        assert_eq!(report.national_number.as_ref().unwrap().kind(), "iin");
        // The typed birth date disagrees with both the MRZ and the IIN.
        assert_eq!(
            codes(&report)
                .iter()
                .filter(|c| **c == "birth_date_mismatch")
                .count(),
            2
        );
    }

    #[test]
    fn an_expired_passport_names_both_dates() {
        let report = check(
            &DocumentInput {
                mrz: Some(format!("{TD3_LINE1}\n{TD3_LINE2}")),
                ..DocumentInput::default()
            },
            &Expectation {
                name: None,
                on: Some(date("2026-11-21")),
            },
        );
        assert_eq!(codes(&report), ["document_expired"]);
        assert_eq!(
            report.problems[0].message,
            "The passport expired on 2012-04-15, before the application date 2026-11-21."
        );
        assert!(!report.valid);
    }

    #[test]
    fn a_document_is_still_valid_on_its_expiry_day() {
        let on_day = Expectation {
            name: None,
            on: Some(date("2026-11-21")),
        };
        let input = DocumentInput {
            expires_on: Some(date("2026-11-21")),
            ..DocumentInput::default()
        };
        assert!(check(&input, &on_day).valid);
        let day_before = DocumentInput {
            expires_on: Some(date("2026-11-20")),
            ..DocumentInput::default()
        };
        assert!(!check(&day_before, &on_day).valid);
    }

    #[test]
    fn birth_date_must_agree_between_mrz_and_national_number() {
        // A valid IIN of a man born 1985-01-02 on the passport of a woman born 1990-05-12.
        let report = check(
            &DocumentInput {
                mrz: Some(KZ_PASSPORT.to_owned()),
                personal_number: Some("850102300219".to_owned()),
                ..DocumentInput::default()
            },
            &Expectation::default(),
        );
        let found = codes(&report);
        assert!(found.contains(&"birth_date_mismatch"), "{found:?}");
        assert!(found.contains(&"personal_number_mismatch"), "{found:?}");
        assert!(found.contains(&"sex_mismatch"), "{found:?}");
        let messages: String = report.problems.iter().map(|p| p.message.clone()).collect();
        assert!(!messages.contains("850102300219"), "{messages}");
    }

    #[test]
    fn belarusian_and_latvian_passports_check_their_numbers_and_names() {
        let by = check(
            &DocumentInput {
                mrz: Some(BY_PASSPORT.to_owned()),
                ..DocumentInput::default()
            },
            &Expectation {
                name: Some("Сергей Иванов".to_owned()),
                on: Some(date("2026-11-21")),
            },
        );
        assert!(by.valid, "{:?}", by.problems);
        assert_eq!(
            by.national_number.as_ref().unwrap().kind(),
            "by_personal_number"
        );

        let lv = check(
            &DocumentInput {
                mrz: Some(LV_PASSPORT.to_owned()),
                personal_number: Some("121282-11211".to_owned()),
                ..DocumentInput::default()
            },
            &Expectation {
                name: Some("Jānis Bērziņš".to_owned()),
                on: None,
            },
        );
        assert_eq!(codes(&lv), ["personal_number_check"]);
    }

    #[test]
    fn a_stranger_paying_is_a_name_mismatch() {
        let report = check(
            &DocumentInput {
                mrz: Some(BY_PASSPORT.to_owned()),
                ..DocumentInput::default()
            },
            &Expectation {
                name: Some("Пётр Сидоров".to_owned()),
                on: None,
            },
        );
        assert_eq!(codes(&report), ["name_mismatch"]);
        assert!(!report.name_match.unwrap().matched);
    }

    #[test]
    fn russian_internal_passport_without_mrz_is_checked_for_shape() {
        let report = check(
            &DocumentInput {
                country: Some("RU".to_owned()),
                document_number: Some("45 06 12345".to_owned()),
                ..DocumentInput::default()
            },
            &Expectation::default(),
        );
        assert_eq!(codes(&report), ["document_number_format"]);
    }

    #[test]
    fn a_broken_mrz_does_not_feed_the_consistency_checks() {
        let broken = bump_digit(TD3_LINE2, 19);
        let report = check(
            &DocumentInput {
                mrz: Some(format!("{TD3_LINE1}\n{broken}")),
                ..DocumentInput::default()
            },
            &Expectation {
                name: Some("Someone Else".to_owned()),
                on: Some(date("2026-11-21")),
            },
        );
        assert_eq!(codes(&report), ["mrz_check_digit", "mrz_check_digit"]);
        assert!(report.mrz.is_none());
    }
}

mod never_panics {
    use proptest::prelude::*;
    use shared::identity::file::inspect;
    use shared::identity::mrz;
    use shared::identity::national::{ByPersonalNumber, Iin, LvPersonalCode, RuPassport};
    use shared::identity::{mask_document_number, match_names};

    proptest! {
        #[test]
        fn mrz_parser(text in ".{0,120}") {
            let _ = mrz::parse(&text);
        }

        #[test]
        fn mrz_parser_on_mrz_like_text(
            lines in proptest::collection::vec("[A-Z0-9<]{28,46}", 1..4)
        ) {
            let _ = mrz::parse(&lines.join("\n"));
        }

        #[test]
        fn national_parsers(text in ".{0,20}", digits in "[0-9A-Z -]{0,16}") {
            for input in [&text, &digits] {
                let _ = Iin::parse(input);
                let _ = ByPersonalNumber::parse(input);
                let _ = LvPersonalCode::parse(input);
                let _ = RuPassport::parse(input);
                let _ = mask_document_number(input);
            }
        }

        #[test]
        fn name_matching(a in ".{0,40}", b in "\\PC{0,40}") {
            let result = match_names(&a, &b);
            prop_assert!((0.0..=1.0).contains(&result.score));
        }

        #[test]
        fn file_inspection(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = inspect(&data);
        }

        #[test]
        fn file_inspection_with_valid_magic(
            magic in prop_oneof![
                Just(b"\xFF\xD8\xFF".to_vec()),
                Just(b"\x89PNG\r\n\x1a\n".to_vec()),
                Just(b"%PDF-1.7 /Type /Pages << >> /Count".to_vec()),
                Just(b"\0\0\0\x18ftypheic".to_vec()),
            ],
            rest in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let mut data = magic;
            data.extend(rest);
            let _ = inspect(&data);
        }
    }
}
