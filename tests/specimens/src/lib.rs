//! Made-up identity documents for the MRZ reader's tests and benchmark.
//!
//! [`Document`] composes a machine-readable zone by ICAO 9303 (TD3 passports, TD1 ID cards)
//! for a Belarus, Kazakhstan, Latvia or Russia-style document, with a national number in the
//! optional data that passes the same checks refundd applies (IIN, BY personal number,
//! personas kods), or with one check digit deliberately wrong. [`draw`] prints it with the
//! OCR-B font from Debian's `fonts-ocr-b` onto a data page with a face box, labels in
//! DejaVu Sans (Cyrillic and Latin) and a guilloche, then makes it a photo or a scan: placed
//! on a desk or a scanner bed, rotated up to ±5°, photos also tilted in perspective (the far
//! side up to 5 % smaller), lit unevenly, blurred, grained and saved as JPEG at a low quality.
//!
//! Names are drawn from invented lists and numbers at random: no real person's document is
//! anywhere here. Everything is seeded: the same seed gives the same picture.

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use chrono::{Datelike, NaiveDate};
use image::{Rgb, RgbImage};
use shared::identity::mrz::check_digit;
use shared::identity::national::{ByPersonalNumber, Iin, LvPersonalCode};

/// Where Debian's `fonts-ocr-b` puts the font (installed by `scripts/ocr`).
pub const OCR_B: &str = "/usr/share/fonts/opentype/ocr-b/OCRB.otf";
/// Where Debian's `fonts-dejavu-core` puts the labels' font.
pub const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Whose style the document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Country {
    /// Belarus.
    By,
    /// Kazakhstan.
    Kz,
    /// Latvia.
    Lv,
    /// Russia (international passport).
    Ru,
}

impl Country {
    /// The ICAO code.
    pub fn code(self) -> &'static str {
        match self {
            Self::By => "BLR",
            Self::Kz => "KAZ",
            Self::Lv => "LVA",
            Self::Ru => "RUS",
        }
    }

    /// All four, in a fixed order.
    pub const ALL: [Country; 4] = [Self::Kz, Self::By, Self::Lv, Self::Ru];
}

/// Passport (TD3), ID card (TD1) or larger ID card (TD2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Two lines of 44.
    Td3,
    /// Three lines of 30.
    Td1,
    /// Two lines of 36.
    Td2,
}

/// The holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Surname, Latin capitals, words separated by spaces.
    pub surname: String,
    /// Given names, Latin capitals.
    pub given_names: String,
    /// `'M'` or `'F'`.
    pub sex: char,
    /// Date of birth.
    pub birth_date: NaiveDate,
}

/// A document and its MRZ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Whose style.
    pub country: Country,
    /// Passport or ID card.
    pub kind: Kind,
    /// The holder.
    pub person: Person,
    /// The document number (9 characters or fewer).
    pub number: String,
    /// Expiry date.
    pub expiry: NaiveDate,
    /// The national number in the optional data, if the country prints one.
    pub personal_number: Option<String>,
    /// The MRZ lines as printed.
    pub lines: Vec<String>,
    /// Whether every check digit is right (false: one was made wrong on purpose).
    pub valid: bool,
}

const KZ_SURNAMES: [(&str, &str); 8] = [
    ("ABDIKAROV", "ABDIKAROVA"),
    ("SERIKBAYEV", "SERIKBAYEVA"),
    ("TOKTAROV", "TOKTAROVA"),
    ("ORAZBAYEV", "ORAZBAYEVA"),
    ("ZHUMABEKOV", "ZHUMABEKOVA"),
    ("NURGALIYEV", "NURGALIYEVA"),
    ("KASYMOV", "KASYMOVA"),
    ("BAIMUKHAN", "BAIMUKHAN"),
];
/// Given names: men's, women's.
type GivenNames = ([&'static str; 6], [&'static str; 6]);

const KZ_GIVEN: GivenNames = (
    ["NURLAN", "DANIYAR", "YERLAN", "TIMUR", "ALIBEK", "ARMAN"],
    ["AIGERIM", "ASEL", "ZHANAR", "DINARA", "SAULE", "GULNARA"],
);
const BY_SURNAMES: [(&str, &str); 7] = [
    ("KAVALENKA", "KAVALENKA"),
    ("NAVITSKI", "NAVITSKAYA"),
    ("SHAUCHUK", "SHAUCHUK"),
    ("ZHUK", "ZHUK"),
    ("PALIAKOU", "PALIAKOVA"),
    ("MAROZAU", "MAROZAVA"),
    ("KRAUCHANKA", "KRAUCHANKA"),
];
const BY_GIVEN: GivenNames = (
    [
        "ALIAKSANDR",
        "SIARHEI",
        "DZMITRY",
        "YAUHEN",
        "ULADZIMIR",
        "PAVEL",
    ],
    ["VOLHA", "HANNA", "KATSIARYNA", "TATSIANA", "ALENA", "IRYNA"],
);
const LV_SURNAMES: [(&str, &str); 7] = [
    ("BERZINS", "BERZINA"),
    ("KALNINS", "KALNINA"),
    ("OZOLS", "OZOLA"),
    ("LIEPINS", "LIEPINA"),
    ("KRUMINS", "KRUMINA"),
    ("JANSONS", "JANSONE"),
    ("VITOLS", "VITOLA"),
];
const LV_GIVEN: GivenNames = (
    ["JANIS", "MARIS", "EDGARS", "KRISTAPS", "ANDRIS", "RAIVIS"],
    ["ANNA", "LIGA", "INESE", "ILZE", "KRISTINE", "MARIJA"],
);
const RU_SURNAMES: [(&str, &str); 7] = [
    ("SMIRNOV", "SMIRNOVA"),
    ("KUZNETSOV", "KUZNETSOVA"),
    ("POPOV", "POPOVA"),
    ("SOKOLOV", "SOKOLOVA"),
    ("LEBEDEV", "LEBEDEVA"),
    ("VOLKOV", "VOLKOVA"),
    ("MOROZOV", "MOROZOVA"),
];
const RU_GIVEN: GivenNames = (
    ["SERGEI", "DMITRII", "PAVEL", "MAKSIM", "ALEKSEI", "IVAN"],
    ["OLGA", "ELENA", "IRINA", "MARIIA", "TATIANA", "NATALIA"],
);

/// Someone invented: a name from the country's lists, a sex, a birth date 1950-2004.
pub fn person(rng: &mut fastrand::Rng, country: Country) -> Person {
    let (surnames, given): (&[(&str, &str)], &GivenNames) = match country {
        Country::Kz => (&KZ_SURNAMES, &KZ_GIVEN),
        Country::By => (&BY_SURNAMES, &BY_GIVEN),
        Country::Lv => (&LV_SURNAMES, &LV_GIVEN),
        Country::Ru => (&RU_SURNAMES, &RU_GIVEN),
    };
    let male = rng.bool();
    let (m, f) = surnames[rng.usize(..surnames.len())];
    let pick = |rng: &mut fastrand::Rng| {
        let list = if male { &given.0 } else { &given.1 };
        list[rng.usize(..list.len())]
    };
    let mut given_names = pick(rng).to_string();
    let second = pick(rng);
    let surname = if male { m } else { f };
    // A second given name, when it fits even an ID card's 30 characters untruncated.
    if rng.u8(..4) == 0
        && second != given_names
        && surname.len() + given_names.len() + second.len() + 3 <= 30
    {
        given_names = format!("{given_names} {second}");
    }
    let birth_date =
        NaiveDate::from_ymd_opt(rng.i32(1950..=2004), rng.u32(1..=12), rng.u32(1..=28))
            .expect("day 1-28 exists in every month");
    Person {
        surname: surname.to_string(),
        given_names,
        sex: if male { 'M' } else { 'F' },
        birth_date,
    }
}

fn digits(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.u8(..10))).collect()
}

fn yymmdd(d: NaiveDate) -> String {
    format!("{:02}{:02}{:02}", d.year() % 100, d.month(), d.day())
}

fn ddmmyy(d: NaiveDate) -> String {
    format!("{:02}{:02}{:02}", d.day(), d.month(), d.year() % 100)
}

/// The last digit that makes `parse` accept `stem + digit`, if any.
fn complete(stem: &str, parse: impl Fn(&str) -> bool) -> Option<String> {
    (0..10)
        .map(|d| format!("{stem}{d}"))
        .find(|candidate| parse(candidate))
}

/// A valid national number for the person, as the country prints it in the MRZ.
pub fn personal_number(rng: &mut fastrand::Rng, country: Country, p: &Person) -> Option<String> {
    let male = p.sex == 'M';
    let century_sex = match (p.birth_date.year() >= 2000, male) {
        (false, true) => 3,
        (false, false) => 4,
        (true, true) => 5,
        (true, false) => 6,
    };
    loop {
        let found = match country {
            Country::Kz => {
                let stem = format!("{}{century_sex}{}", yymmdd(p.birth_date), digits(rng, 4));
                complete(&stem, |s| Iin::parse(s).is_ok())
            }
            Country::By => {
                let region = b"ABCEHKM"[rng.usize(..7)] as char;
                let stem = format!(
                    "{century_sex}{}{region}{}PB",
                    ddmmyy(p.birth_date),
                    digits(rng, 3)
                );
                complete(&stem, |s| ByPersonalNumber::parse(s).is_ok())
            }
            Country::Lv => {
                let century = if p.birth_date.year() >= 2000 { 2 } else { 1 };
                let stem = format!("{}{century}{}", ddmmyy(p.birth_date), digits(rng, 3));
                complete(&stem, |s| LvPersonalCode::parse(s).is_ok())
            }
            Country::Ru => return None,
        };
        if found.is_some() {
            return found;
        }
    }
}

fn document_number(rng: &mut fastrand::Rng, country: Country, kind: Kind) -> String {
    // Letters that national issuers use in numbers; O and I are avoided as ICAO advises.
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let letter = |rng: &mut fastrand::Rng| char::from(LETTERS[rng.usize(..LETTERS.len())]);
    match (country, kind) {
        (Country::Kz, Kind::Td3) => format!("N{}", digits(rng, 8)),
        (Country::Kz, Kind::Td1) => digits(rng, 9),
        (Country::By, Kind::Td3) => format!("{}{}{}", letter(rng), letter(rng), digits(rng, 7)),
        (Country::By, Kind::Td1) => format!("{}{}", letter(rng), digits(rng, 8)),
        (Country::Lv, Kind::Td3) => format!("LV{}", digits(rng, 7)),
        (Country::Lv, Kind::Td1) => format!("PA{}{}", digits(rng, 6), letter(rng)),
        (Country::Ru, _) => digits(rng, 9),
        (_, Kind::Td2) => format!("{}{}", letter(rng), digits(rng, 8)),
    }
}

fn field(text: &str, len: usize) -> String {
    let mut s: String = text.replace([' ', '-'], "<");
    s.truncate(len);
    while s.len() < len {
        s.push('<');
    }
    s
}

fn cd(data: &str) -> char {
    char::from(b'0' + check_digit(data).expect("MRZ characters only"))
}

/// The name field: `SURNAME<<GIVEN<NAMES` cut or filled to `len`.
fn names(p: &Person, len: usize) -> String {
    field(&format!("{}<<{}", p.surname, p.given_names), len)
}

impl Document {
    /// Composes the MRZ. `valid: false` makes exactly one check digit wrong.
    pub fn new(
        rng: &mut fastrand::Rng,
        country: Country,
        kind: Kind,
        person: Person,
        expiry: NaiveDate,
        valid: bool,
    ) -> Self {
        let number = document_number(rng, country, kind);
        // TD2's 7 characters of optional data hold no national number.
        let personal_number = if kind == Kind::Td2 {
            None
        } else {
            personal_number(rng, country, &person)
        };
        let optional = personal_number.clone().unwrap_or_default();
        let state = country.code();
        let sex = person.sex;
        let birth = yymmdd(person.birth_date);
        let exp = yymmdd(expiry);
        let mut lines = match kind {
            Kind::Td3 => {
                let num = field(&number, 9);
                let opt = field(&optional, 14);
                let opt_cd = if optional.is_empty() { '<' } else { cd(&opt) };
                let body = format!(
                    "{num}{}{state}{birth}{}{sex}{exp}{}{opt}{opt_cd}",
                    cd(&num),
                    cd(&birth),
                    cd(&exp)
                );
                let composite = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..43]);
                vec![
                    format!("P<{state}{}", names(&person, 39)),
                    format!("{body}{}", cd(&composite)),
                ]
            }
            Kind::Td2 => {
                let num = field(&number, 9);
                let body = format!(
                    "{num}{}{state}{birth}{}{sex}{exp}{}{}",
                    cd(&num),
                    cd(&birth),
                    cd(&exp),
                    field("", 7)
                );
                let composite = format!("{}{}{}", &body[0..10], &body[13..20], &body[21..35]);
                vec![
                    format!("I<{state}{}", names(&person, 31)),
                    format!("{body}{}", cd(&composite)),
                ]
            }
            Kind::Td1 => {
                let num = field(&number, 9);
                let line1 = format!("I<{state}{num}{}{}", cd(&num), field(&optional, 15));
                let line2 = format!(
                    "{birth}{}{sex}{exp}{}{state}{}",
                    cd(&birth),
                    cd(&exp),
                    field("", 11)
                );
                let composite = format!(
                    "{}{}{}{}",
                    &line1[5..30],
                    &line2[0..7],
                    &line2[8..15],
                    &line2[18..29]
                );
                vec![
                    line1,
                    format!("{line2}{}", cd(&composite)),
                    names(&person, 30),
                ]
            }
        };
        if !valid {
            // One check digit off by 1-9.
            let spots: &[(usize, usize)] = match kind {
                Kind::Td3 if optional.is_empty() => &[(1, 9), (1, 19), (1, 27), (1, 43)],
                Kind::Td3 => &[(1, 9), (1, 19), (1, 27), (1, 42), (1, 43)],
                Kind::Td1 => &[(0, 14), (1, 6), (1, 14), (1, 29)],
                Kind::Td2 => &[(1, 9), (1, 19), (1, 27), (1, 35)],
            };
            let (line, pos) = spots[rng.usize(..spots.len())];
            let mut bytes = lines[line].clone().into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + rng.u8(1..10)) % 10;
            lines[line] = String::from_utf8(bytes).expect("ASCII");
        }
        Self {
            country,
            kind,
            person,
            number,
            expiry,
            personal_number,
            lines,
            valid,
        }
    }

    /// The MRZ as one text, lines separated by newlines.
    pub fn mrz(&self) -> String {
        self.lines.join("\n")
    }

    /// The `fields` object `refundd read-document` must print for this document.
    pub fn expected_fields(&self) -> serde_json::Value {
        let code = self.country.code();
        serde_json::json!({
            "document_type": if self.kind == Kind::Td3 { "P" } else { "I" },
            "issuing_country": code,
            "document_number": self.number,
            "surname": self.person.surname,
            "given_names": self.person.given_names,
            "nationality": code,
            "birth_date": self.person.birth_date.to_string(),
            "sex": self.person.sex.to_string(),
            "expiry_date": self.expiry.to_string(),
            "personal_number": self.personal_number,
        })
    }
}

/// A document drawn as a picture.
pub struct Specimen {
    /// What is printed.
    pub document: Document,
    /// The picture, JPEG.
    pub jpeg: Vec<u8>,
    /// The MRZ's bounding box in the picture (x0, y0, x1, y1), for cropping it.
    pub band: (u32, u32, u32, u32),
    /// Photo on a desk (true) or flatbed scan (false).
    pub photo: bool,
}

/// The fonts used for drawing, loaded once per set.
pub struct Fonts {
    ocr_b: FontVec,
    labels: FontVec,
}

impl Fonts {
    /// Loads Debian's OCR-B and DejaVu Sans; run `scripts/ocr` when they are missing.
    pub fn load() -> Self {
        let read = |path: &str| {
            let bytes = std::fs::read(path)
                .unwrap_or_else(|e| panic!("{path}: {e} (scripts/ocr installs the fonts)"));
            FontVec::try_from_vec(bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
        };
        Self {
            ocr_b: read(OCR_B),
            labels: read(DEJAVU),
        }
    }
}

fn blend(img: &mut RgbImage, x: i64, y: i64, colour: [u8; 3], cover: f32) {
    if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) {
        return;
    }
    let p = img.get_pixel_mut(x as u32, y as u32);
    for (channel, target) in p.0.iter_mut().zip(colour) {
        let v = f32::from(*channel) * (1.0 - cover) + f32::from(target) * cover;
        *channel = v.round().clamp(0.0, 255.0) as u8;
    }
}

/// Draws `text` with its baseline at `y`, starting at `x`, each glyph advancing by
/// `advance` when given (monospaced MRZ) or by the font's own advance.
fn text(
    img: &mut RgbImage,
    font: &FontVec,
    px: f32,
    (x, y): (f32, f32),
    s: &str,
    colour: [u8; 3],
    advance: Option<f32>,
) {
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let mut pen = x;
    for ch in s.chars() {
        let id = font.glyph_id(ch);
        let glyph = id.with_scale_and_position(scale, point(pen, y));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, c| {
                blend(
                    img,
                    b.min.x as i64 + i64::from(gx),
                    b.min.y as i64 + i64::from(gy),
                    colour,
                    c.min(1.0),
                );
            });
        }
        pen += advance.unwrap_or_else(|| scaled.h_advance(id));
    }
}

fn fill_rect(
    img: &mut RgbImage,
    (x0, y0, x1, y1): (f32, f32, f32, f32),
    colour: [u8; 3],
    alpha: f32,
) {
    for y in y0.max(0.0) as u32..(y1 as u32).min(img.height()) {
        for x in x0.max(0.0) as u32..(x1 as u32).min(img.width()) {
            blend(img, i64::from(x), i64::from(y), colour, alpha);
        }
    }
}

/// Labels per country: title, then (label, value kind) lines.
fn title(country: Country, kind: Kind) -> &'static str {
    match (country, kind) {
        (_, Kind::Td2) => "IDENTITY CARD  ID KARTE  CARTE D'IDENTITÉ",
        (Country::Kz, Kind::Td3) => "ҚАЗАҚСТАН РЕСПУБЛИКАСЫ  ПАСПОРТ  PASSPORT",
        (Country::Kz, Kind::Td1) => "ЖЕКЕ КУӘЛІК  УДОСТОВЕРЕНИЕ ЛИЧНОСТИ",
        (Country::By, Kind::Td3) => "РЭСПУБЛІКА БЕЛАРУСЬ  ПАШПАРТ  PASSPORT",
        (Country::By, Kind::Td1) => "ІДЭНТЫФІКАЦЫЙНАЯ КАРТА  IDENTITY CARD",
        (Country::Lv, Kind::Td3) => "LATVIJAS REPUBLIKA  PASE  PASSPORT",
        (Country::Lv, Kind::Td1) => "PERSONAS APLIECĪBA  IDENTITY CARD",
        (Country::Ru, _) => "РОССИЙСКАЯ ФЕДЕРАЦИЯ  ПАСПОРТ  PASSPORT",
    }
}

fn labels(country: Country) -> [&'static str; 6] {
    match country {
        Country::Kz => [
            "Тегі / Фамилия / Surname",
            "Аты / Имя / Given names",
            "Туған күні / Date of birth",
            "Жынысы / Sex",
            "Жарамды / Date of expiry",
            "Құжат № / Document No",
        ],
        Country::By => [
            "Прозвішча / Surname",
            "Імя / Given names",
            "Дата нараджэння / Date of birth",
            "Пол / Sex",
            "Дата заканчэння / Date of expiry",
            "№ пашпарта / Passport No",
        ],
        Country::Lv => [
            "Uzvārds / Surname",
            "Vārdi / Given names",
            "Dzimšanas datums / Date of birth",
            "Dzimums / Sex",
            "Derīga līdz / Date of expiry",
            "Pases Nr. / Passport No",
        ],
        Country::Ru => [
            "Фамилия / Surname",
            "Имя / Given names",
            "Дата рождения / Date of birth",
            "Пол / Sex",
            "Дата окончания срока / Date of expiry",
            "Номер / Passport No",
        ],
    }
}

/// Draws the document's data page (TD3: 125 x 88 mm; TD1: 85.6 x 54 mm) at `ppm` pixels
/// per millimetre. Returns the page and the MRZ's box on it.
fn page(
    rng: &mut fastrand::Rng,
    fonts: &Fonts,
    doc: &Document,
    ppm: f32,
) -> (RgbImage, (f32, f32, f32, f32)) {
    let (w_mm, h_mm) = match doc.kind {
        Kind::Td3 => (125.0, 88.0),
        Kind::Td2 => (105.0, 74.0),
        Kind::Td1 => (85.6, 54.0),
    };
    let (w, h) = ((w_mm * ppm) as u32, (h_mm * ppm) as u32);
    let tint = [rng.u8(232..252), rng.u8(228..248), rng.u8(212..242)];
    let (fx, fy, phase) = (
        rng.f32() * 0.08 + 0.05,
        rng.f32() * 0.05 + 0.02,
        rng.f32() * 6.0,
    );
    let mut img = RgbImage::from_fn(w, h, |x, y| {
        // A faint guilloche of crossing waves.
        let (xf, yf) = (x as f32 / ppm, y as f32 / ppm);
        let wave = ((xf * fx * 6.0 + (yf * fy * 9.0 + phase).sin() * 2.5).sin() * 0.5 + 0.5) * 14.0;
        Rgb(tint.map(|c| (f32::from(c) - wave).max(0.0) as u8))
    });
    let mm = |v: f32| v * ppm;
    let ink = {
        let base = rng.u8(15..60);
        if rng.u8(..4) == 0 {
            [base / 2, base / 2, base + 40]
        } else {
            [base, base, base]
        }
    };
    let label_px = mm(2.0);
    let value_px = mm(2.9);
    text(
        &mut img,
        &fonts.labels,
        mm(3.2),
        (mm(5.0), mm(7.5)),
        title(doc.country, doc.kind),
        [60, 40, 90],
        None,
    );
    // TD3: the data page, a face box with labels and values to its right. TD1: the card's
    // back, where the MRZ is: a few labelled lines above it and a barcode-like strip.
    let labels = labels(doc.country);
    let dob = doc.person.birth_date.format("%d.%m.%Y").to_string();
    let exp = doc.expiry.format("%d.%m.%Y").to_string();
    let sex = doc.person.sex.to_string();
    let values = [
        doc.person.surname.as_str(),
        doc.person.given_names.as_str(),
        dob.as_str(),
        sex.as_str(),
        exp.as_str(),
        doc.number.as_str(),
    ];
    match doc.kind {
        Kind::Td3 | Kind::Td2 => {
            let (bx, by, bw, bh) = if doc.kind == Kind::Td3 {
                (mm(5.0), mm(14.0), mm(32.0), mm(42.0))
            } else {
                (mm(5.0), mm(12.0), mm(28.0), mm(36.0))
            };
            let step = if doc.kind == Kind::Td3 { 7.0 } else { 6.0 };
            fill_rect(&mut img, (bx, by, bx + bw, by + bh), [175, 180, 190], 0.9);
            let (cx, cy) = (bx + bw / 2.0, by + bh * 0.42);
            for y in by as u32..(by + bh) as u32 {
                for x in bx as u32..(bx + bw) as u32 {
                    let (dx, dy) = ((x as f32 - cx) / (bw * 0.28), (y as f32 - cy) / (bh * 0.3));
                    let shoulders = y as f32 > by + bh * 0.78 && (x as f32 - cx).abs() < bw * 0.45;
                    if dx * dx + dy * dy < 1.0 || shoulders {
                        blend(&mut img, i64::from(x), i64::from(y), [120, 95, 85], 0.85);
                    }
                }
            }
            let (lx, mut ly) = (bx + bw + mm(5.0), by + mm(2.5));
            for (label, value) in labels.iter().zip(values) {
                text(
                    &mut img,
                    &fonts.labels,
                    label_px,
                    (lx, ly),
                    label,
                    [90, 90, 110],
                    None,
                );
                text(
                    &mut img,
                    &fonts.labels,
                    value_px,
                    (lx, ly + mm(3.3)),
                    value,
                    ink,
                    None,
                );
                ly += mm(step);
            }
        }
        Kind::Td1 => {
            let mut ly = mm(12.0);
            for (label, value) in labels.iter().zip(values).skip(2).take(3) {
                text(
                    &mut img,
                    &fonts.labels,
                    label_px,
                    (mm(5.0), ly),
                    label,
                    [90, 90, 110],
                    None,
                );
                text(
                    &mut img,
                    &fonts.labels,
                    value_px,
                    (mm(5.0), ly + mm(3.0)),
                    value,
                    ink,
                    None,
                );
                ly += mm(6.0);
            }
            let strip = (mm(55.0), mm(10.0), mm(80.0), mm(26.0));
            for i in 0..40 {
                let x = strip.0 + (strip.2 - strip.0) * i as f32 / 40.0;
                if rng.bool() {
                    fill_rect(
                        &mut img,
                        (x, strip.1, x + mm(0.4), strip.3),
                        [40, 40, 40],
                        0.9,
                    );
                }
            }
        }
    }
    // The MRZ: OCR-B at 2.54 mm pitch, lines 4.3 mm apart, the last baseline 5.9 mm up.
    let pitch = mm(2.54);
    let ocr_scaled = fonts.ocr_b.as_scaled(PxScale::from(100.0));
    let px = 100.0 * pitch / ocr_scaled.h_advance(fonts.ocr_b.glyph_id('H'));
    let x0 = (w as f32 - pitch * doc.lines[0].len() as f32) / 2.0;
    let n = doc.lines.len() as f32;
    let first_base = h as f32 - mm(5.9) - (n - 1.0) * mm(4.3);
    let bold = rng.bool();
    for (i, line) in doc.lines.iter().enumerate() {
        let base = first_base + i as f32 * mm(4.3);
        text(
            &mut img,
            &fonts.ocr_b,
            px,
            (x0, base),
            line,
            ink,
            Some(pitch),
        );
        if bold {
            text(
                &mut img,
                &fonts.ocr_b,
                px,
                (x0 + ppm * 0.08, base),
                line,
                ink,
                Some(pitch),
            );
        }
    }
    let band = (
        x0 - mm(2.0),
        first_base - mm(4.0),
        x0 + pitch * doc.lines[0].len() as f32 + mm(2.0),
        h as f32 - mm(3.5),
    );
    (img, band)
}

fn normal(rng: &mut fastrand::Rng) -> f32 {
    (0..4).map(|_| rng.f32()).sum::<f32>() - 2.0
}

/// Draws the document as a photo or a scan, degraded as described in the crate docs.
pub fn draw(rng: &mut fastrand::Rng, fonts: &Fonts, doc: Document) -> Specimen {
    let ppm = match doc.kind {
        Kind::Td3 => 7.0 + rng.f32() * 6.0,
        Kind::Td2 => 8.5 + rng.f32() * 6.0,
        Kind::Td1 => 10.0 + rng.f32() * 6.0,
    };
    let (page, band) = page(rng, fonts, &doc, ppm);
    let photo = rng.bool();
    let (pw, ph) = (page.width() as f32, page.height() as f32);
    let margin = if photo {
        0.08 + rng.f32() * 0.2
    } else {
        0.03 + rng.f32() * 0.08
    };
    let (sw, sh) = (
        (pw * (1.0 + 2.0 * margin)) as u32,
        (ph * (1.0 + 2.0 * margin)) as u32,
    );
    let (ox, oy) = (pw * margin, ph * margin);
    let angle = (rng.f32() * 10.0 - 5.0).to_radians();
    let (sin, cos) = angle.sin_cos();
    let (cx, cy) = (pw / 2.0, ph / 2.0);
    // A photo is taken a little off square: the far side of the page comes out up to 5 %
    // smaller (a projective tilt about the page's centre, `tilt.0` across, `tilt.1` down).
    let tilt = if photo {
        ((rng.f32() - 0.5) * 0.1, (rng.f32() - 0.5) * 0.1)
    } else {
        (0.0, 0.0)
    };
    let desk = if photo {
        let b = rng.u8(60..150);
        [
            b,
            b.saturating_sub(rng.u8(..30)),
            b.saturating_sub(rng.u8(..50)),
        ]
    } else {
        [rng.u8(225..250); 3]
    };
    // Light: a gradient in a random direction, darker on one side, and a soft vignette.
    let (lx, ly) = (rng.f32() * 2.0 - 1.0, rng.f32() * 2.0 - 1.0);
    let depth = if photo {
        0.25 + rng.f32() * 0.25
    } else {
        rng.f32() * 0.12
    };
    let mut scene = RgbImage::from_fn(sw, sh, |x, y| {
        // Inverse rotation about the page's centre, placed at (ox, oy).
        let (dx, dy) = (x as f32 + 0.5 - ox - cx, y as f32 + 0.5 - oy - cy);
        let (du, dv) = (dx * cos + dy * sin, -dx * sin + dy * cos);
        let w = 1.0 + tilt.0 * du / pw + tilt.1 * dv / ph;
        let (u, v) = (cx + du / w, cy + dv / w);
        let colour = if u >= 0.0 && v >= 0.0 && u < pw - 1.0 && v < ph - 1.0 {
            bilinear(&page, u - 0.5, v - 0.5)
        } else {
            desk.map(f32::from)
        };
        let (nx, ny) = (x as f32 / sw as f32 - 0.5, y as f32 / sh as f32 - 0.5);
        let light =
            1.0 - depth * (0.5 + (nx * lx + ny * ly)) - 0.15 * depth * (nx * nx + ny * ny) * 4.0;
        Rgb(colour.map(|c| (c * light).clamp(0.0, 255.0) as u8))
    });
    let sigma = 0.3 + rng.f32() * if photo { 1.3 } else { 0.8 };
    scene = image::imageops::blur(&scene, sigma);
    let grain = 2.0 + rng.f32() * 5.0;
    for p in scene.pixels_mut() {
        let n = normal(rng) * grain;
        p.0 = p.0.map(|c| (f32::from(c) + n).clamp(0.0, 255.0) as u8);
    }
    let quality = 40 + rng.u8(..46);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
        .encode_image(&scene)
        .expect("JPEG into memory");
    // The MRZ box's corners, rotated into the scene.
    let corners = [
        (band.0, band.1),
        (band.2, band.1),
        (band.0, band.3),
        (band.2, band.3),
    ];
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (u, v) in corners {
        // The tilt's inverse, then the rotation.
        let (pu, pv) = (u - cx, v - cy);
        let w = 1.0 / (1.0 - tilt.0 * pu / pw - tilt.1 * pv / ph);
        let (du, dv) = (pu * w, pv * w);
        let (x, y) = (ox + cx + du * cos - dv * sin, oy + cy + du * sin + dv * cos);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let clamp = |v: f32, max: u32| v.clamp(0.0, max as f32) as u32;
    Specimen {
        document: doc,
        jpeg,
        band: (clamp(x0, sw), clamp(y0, sh), clamp(x1, sw), clamp(y1, sh)),
        photo,
    }
}

fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (x0, y0) = (x.floor().max(0.0), y.floor().max(0.0));
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as u32, y0 as u32);
    let x1 = (x0 + 1).min(img.width() - 1);
    let y1 = (y0 + 1).min(img.height() - 1);
    let p = |xx, yy| img.get_pixel(xx, yy).0.map(f32::from);
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    [0, 1, 2].map(|i| {
        (a[i] * (1.0 - fx) + b[i] * fx) * (1.0 - fy) + (c[i] * (1.0 - fx) + d[i] * fx) * fy
    })
}

/// The `index`-th specimen of the set seeded by `seed`: countries in turn, one in four an
/// ID card (none for Russia), one in five with a wrong check digit; expiry 2027-2035.
pub fn specimen(fonts: &Fonts, seed: u64, index: usize) -> Specimen {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(1_000_003).wrapping_add(index as u64));
    let country = Country::ALL[index % 4];
    let kind = if (index / 4) % 4 == 3 && country != Country::Ru {
        Kind::Td1
    } else {
        Kind::Td3
    };
    let valid = index % 5 != 4;
    let holder = person(&mut rng, country);
    let expiry = NaiveDate::from_ymd_opt(rng.i32(2027..=2035), rng.u32(1..=12), rng.u32(1..=28))
        .expect("day 1-28 exists in every month");
    let doc = Document::new(&mut rng, country, kind, holder, expiry, valid);
    draw(&mut rng, fonts, doc)
}

/// A one-page PDF holding `jpeg` as its only image (DCTDecode), as a scanner app writes
/// one: A4 portrait, the picture scaled to the page's width.
pub fn pdf_of_jpeg(jpeg: &[u8]) -> Vec<u8> {
    let picture = image::load_from_memory(jpeg).expect("a JPEG we made");
    let (w, h) = (picture.width(), picture.height());
    let (page_w, page_h) = (595.0f32, 842.0f32);
    let shown_h = page_w * h as f32 / w as f32;
    let content = format!(
        "q {page_w} 0 0 {shown_h:.2} 0 {:.2} cm /Im0 Do Q",
        page_h - shown_h
    );
    let stream = |dict: String, data: &[u8]| {
        let mut o = format!("{dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        o.extend(data);
        o.extend(b"\nendstream");
        o
    };
    pdf(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {page_w} {page_h}] /Resources << /XObject << /Im0 4 0 R >> >> /Contents 5 0 R >>"
        )
        .into_bytes(),
        stream(
            format!("<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"),
            jpeg,
        ),
        stream("<<".to_owned(), content.as_bytes()),
    ])
}

/// A PDF file of these objects, numbered from 1 (the first must be the catalog), with its
/// cross-reference table and trailer.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes());
    for offset in &offsets {
        out.extend(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A photo of a blank sheet with a few printed lines and no MRZ: JPEG.
pub fn page_without_mrz(fonts: &Fonts) -> Vec<u8> {
    let mut img = RgbImage::from_pixel(1200, 850, Rgb([240, 238, 230]));
    for (i, line) in [
        "Заявление на возврат",
        "Refund application",
        "12.03.2026  Order 4411",
    ]
    .iter()
    .enumerate()
    {
        text(
            &mut img,
            &fonts.labels,
            40.0,
            (80.0, 150.0 + i as f32 * 80.0),
            line,
            [30, 30, 30],
            None,
        );
    }
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&img)
        .expect("JPEG into memory");
    jpeg
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::identity::{DocumentInput, Expectation, check};

    fn checked(doc: &Document) -> shared::identity::CheckReport {
        check(
            &DocumentInput {
                mrz: Some(doc.mrz()),
                ..DocumentInput::default()
            },
            &Expectation {
                name: Some(format!("{} {}", doc.person.given_names, doc.person.surname)),
                on: NaiveDate::from_ymd_opt(2026, 12, 1),
            },
        )
    }

    #[test]
    fn valid_documents_pass_refundds_checks_and_invalid_ones_fail_on_a_check_digit() {
        let mut rng = fastrand::Rng::with_seed(7);
        for i in 0..200 {
            let country = Country::ALL[i % 4];
            let kind = match i % 5 {
                0 if country != Country::Ru => Kind::Td1,
                1 => Kind::Td2,
                _ => Kind::Td3,
            };
            let valid = i % 4 != 0;
            let holder = person(&mut rng, country);
            let expiry = NaiveDate::from_ymd_opt(2030, 5, 17).unwrap();
            let doc = Document::new(&mut rng, country, kind, holder, expiry, valid);
            let report = checked(&doc);
            assert_eq!(
                report.valid, valid,
                "{:?}: {:?}",
                doc.lines, report.problems
            );
            if valid {
                let mrz = report.mrz.expect("parsed");
                assert_eq!(mrz.document_number.as_str(), doc.number);
                assert_eq!(mrz.surname, doc.person.surname);
                assert_eq!(
                    report.national_number.is_some(),
                    country != Country::Ru && kind != Kind::Td2,
                    "{:?}",
                    doc.lines
                );
            } else {
                assert!(
                    report
                        .problems
                        .iter()
                        .any(|p| p.code.as_str().contains("check_digit")),
                    "{:?}",
                    report.problems
                );
            }
        }
    }
}
