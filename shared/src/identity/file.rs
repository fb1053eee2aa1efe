//! What an uploaded identity-document file really is: its type from magic bytes (JPEG,
//! PNG, PDF accepted; HEIC refused with advice), size and PDF page limits, encrypted PDFs
//! and images too small to read. Reads PNG IHDR, JPEG SOF and PDF structure by hand,
//! defensively: any byte string gives an answer, never a panic.

use serde::Serialize;

use super::problem::{Problem, ProblemCode};

/// An accepted file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A JPEG image.
    Jpeg,
    /// A PNG image.
    Png,
    /// A PDF document.
    Pdf,
}

impl FileKind {
    /// The MIME type (`image/jpeg`, `image/png` or `application/pdf`).
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
        }
    }
}

/// What [`inspect`] learned about an acceptable file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileInfo {
    /// What the magic bytes say the file is.
    pub kind: FileKind,
    /// The file's size in bytes.
    pub bytes: usize,
    /// Width and height in pixels, for images.
    pub dimensions: Option<(u32, u32)>,
    /// Page count, for PDFs whose page tree is readable without decompression (PDFs that
    /// keep their page tree in compressed object streams give `None`).
    pub pages: Option<u32>,
}

/// The limits a file must respect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLimits {
    /// The largest accepted file, in bytes.
    pub max_bytes: usize,
    /// The most pages a PDF may have (checked when its page count is readable).
    pub max_pdf_pages: u32,
    /// The shorter side of an image must be at least this many pixels...
    pub min_short_side: u32,
    /// ...and the longer side at least this many.
    pub min_long_side: u32,
}

impl Default for FileLimits {
    /// 10 MiB, 5 PDF pages, images at least 600 × 400 pixels (either orientation): below
    /// that the MRZ and the printed numbers of a full passport page are not legible.
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_pdf_pages: 5,
            min_short_side: 400,
            min_long_side: 600,
        }
    }
}

/// Inspects a file against the default limits.
pub fn inspect(data: &[u8]) -> Result<FileInfo, Vec<Problem>> {
    inspect_with(data, &FileLimits::default())
}

/// Inspects a file: every problem found, or what the file is.
pub fn inspect_with(data: &[u8], limits: &FileLimits) -> Result<FileInfo, Vec<Problem>> {
    let problem = |code, message: String| vec![Problem::new(code, "file", message)];
    if data.is_empty() {
        return Err(problem(
            ProblemCode::FileEmpty,
            "The file is empty. Please send the scan or photo again.".to_owned(),
        ));
    }
    let kind = match sniff(data) {
        Sniffed::Accepted(kind) => kind,
        Sniffed::Heic => {
            return Err(problem(
                ProblemCode::FileHeic,
                "The photo is in HEIC format (the iPhone default), which we cannot open. Please send it as JPEG, PNG or PDF: on iPhone choose Settings > Camera > Formats > Most Compatible, or take a screenshot of the photo.".to_owned(),
            ));
        }
        Sniffed::Other => {
            return Err(problem(
                ProblemCode::FileTypeUnsupported,
                "The file is not a JPEG, PNG or PDF. Please send the document as a photo (JPEG or PNG) or a PDF scan.".to_owned(),
            ));
        }
    };
    if data.len() > limits.max_bytes {
        return Err(problem(
            ProblemCode::FileTooLarge,
            format!(
                "The file is {} but the limit is {}. Please send a smaller photo or scan.",
                megabytes(data.len()),
                megabytes(limits.max_bytes)
            ),
        ));
    }
    let mut info = FileInfo {
        kind,
        bytes: data.len(),
        dimensions: None,
        pages: None,
    };
    match kind {
        FileKind::Jpeg | FileKind::Png => {
            let dimensions = if kind == FileKind::Png {
                png_dimensions(data)
            } else {
                jpeg_dimensions(data)
            };
            let Some((width, height)) = dimensions else {
                return Err(problem(
                    ProblemCode::FileDamaged,
                    "The image is damaged or incomplete and cannot be opened. Please send it again.".to_owned(),
                ));
            };
            let (short, long) = (width.min(height), width.max(height));
            if short < limits.min_short_side || long < limits.min_long_side {
                return Err(problem(
                    ProblemCode::ImageTooSmall,
                    format!(
                        "The image is only {width} × {height} pixels, too small to read the document. Please send a photo of at least {} × {} pixels.",
                        limits.min_long_side, limits.min_short_side
                    ),
                ));
            }
            info.dimensions = Some((width, height));
        }
        FileKind::Pdf => {
            let mut problems = Vec::new();
            if is_encrypted_pdf(data) {
                problems.extend(problem(
                    ProblemCode::PdfEncrypted,
                    "The PDF is password-protected or encrypted, so we cannot open it. Please send it without a password.".to_owned(),
                ));
            }
            let pages = pdf_page_count(data);
            if let Some(pages) = pages.filter(|&p| p > limits.max_pdf_pages) {
                problems.extend(problem(
                    ProblemCode::PdfTooManyPages,
                    format!(
                        "The PDF has {pages} pages; at most {} are accepted. Please send only the pages of the identity document.",
                        limits.max_pdf_pages
                    ),
                ));
            }
            if !problems.is_empty() {
                return Err(problems);
            }
            info.pages = pages;
        }
    }
    Ok(info)
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

enum Sniffed {
    Accepted(FileKind),
    Heic,
    Other,
}

fn sniff(data: &[u8]) -> Sniffed {
    if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Sniffed::Accepted(FileKind::Jpeg);
    }
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Sniffed::Accepted(FileKind::Png);
    }
    // The PDF header may follow up to 1024 bytes of junk (PDF 1.7, annex H).
    let head = &data[..data.len().min(1024)];
    if find(head, b"%PDF-").is_some() {
        return Sniffed::Accepted(FileKind::Pdf);
    }
    if is_heif(data) {
        return Sniffed::Heic;
    }
    Sniffed::Other
}

/// An ISO base media file whose `ftyp` box names a HEIF/HEIC brand, as major or
/// compatible brand.
fn is_heif(data: &[u8]) -> bool {
    const BRANDS: [&[u8; 4]; 10] = [
        b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1",
    ];
    if data.len() < 16 || &data[4..8] != b"ftyp" {
        return false;
    }
    let box_size = be32(data, 0).unwrap_or(0) as usize;
    let end = box_size.clamp(16, data.len().min(256));
    // Major brand at 8..12, minor version at 12..16, compatible brands after.
    std::iter::once(&data[8..12])
        .chain(data[16..end].chunks_exact(4))
        .any(|brand| BRANDS.iter().any(|b| b.as_slice() == brand))
}

fn be16(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u32::from(u16::from_be_bytes([bytes[0], bytes[1]])))
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// Width and height from the IHDR chunk, which must come first.
fn png_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    if data.get(12..16)? != b"IHDR" || be32(data, 8)? != 13 {
        return None;
    }
    let (width, height) = (be32(data, 16)?, be32(data, 20)?);
    (width > 0 && height > 0).then_some((width, height))
}

/// Width and height from the first start-of-frame segment (SOF0-SOF15 except DHT, JPG
/// and DAC), walking the segments from the start of the file.
fn jpeg_dimensions(data: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        if *data.get(at)? != 0xFF {
            return None;
        }
        while *data.get(at)? == 0xFF {
            at += 1;
        }
        let marker = data[at];
        at += 1;
        match marker {
            // Markers without a length field.
            0x01 | 0xD0..=0xD8 => continue,
            // End of image or start of scan before any frame header.
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let length = be16(data, at)? as usize;
        if length < 2 {
            return None;
        }
        let is_frame = matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_frame {
            let (height, width) = (be16(data, at + 3)?, be16(data, at + 5)?);
            return (width > 0 && height > 0).then_some((width, height));
        }
        at = at.checked_add(length)?;
    }
}

/// True when the PDF's trailer (or cross-reference stream) names an `/Encrypt` dictionary.
fn is_encrypted_pdf(data: &[u8]) -> bool {
    occurrences(data, b"/Encrypt").any(|at| {
        let after = data.get(at + b"/Encrypt".len()).copied();
        // `/EncryptMetadata` is another key; only the bare name counts.
        !after.is_some_and(is_name_char)
    })
}

/// The page count: the larger of the number of `/Type /Page` objects and the biggest
/// `/Count` of a `/Type /Pages` node. `None` when neither is visible (page tree inside
/// compressed object streams).
fn pdf_page_count(data: &[u8]) -> Option<u32> {
    // Bounds the work on adversarial files full of page-tree look-alikes.
    const MAX_NODES: usize = 10_000;
    let mut leaves: u32 = 0;
    let mut largest_count: u32 = 0;
    for at in occurrences(data, b"/Type").take(MAX_NODES * 10) {
        let mut next = at + b"/Type".len();
        while data.get(next).is_some_and(u8::is_ascii_whitespace) {
            next += 1;
        }
        let rest = &data[next.min(data.len())..];
        if rest.starts_with(b"/Pages") && !rest.get(6).copied().is_some_and(is_name_char) {
            if let Some(count) = enclosing_dictionary(data, at).and_then(pages_count) {
                largest_count = largest_count.max(count);
            }
        } else if rest.starts_with(b"/Page") && !rest.get(5).copied().is_some_and(is_name_char) {
            leaves = leaves.saturating_add(1);
        }
    }
    let pages = leaves.max(largest_count);
    (pages > 0).then_some(pages)
}

/// The `<< ... >>` around position `at`, searched within a window of 64 KiB.
fn enclosing_dictionary(data: &[u8], at: usize) -> Option<&[u8]> {
    const WINDOW: usize = 64 * 1024;
    let mut depth = 0usize;
    let mut start = None;
    let mut i = at;
    while i >= 2 && at - i < WINDOW {
        i -= 1;
        match (data[i - 1], data[i]) {
            (b'>', b'>') => {
                depth += 1;
                i -= 1;
            }
            (b'<', b'<') => {
                if depth == 0 {
                    start = Some(i - 1);
                    break;
                }
                depth -= 1;
                i -= 1;
            }
            _ => {}
        }
    }
    let start = start?;
    let mut depth = 0usize;
    let mut j = at;
    while j + 1 < data.len() && j - at < WINDOW {
        match (data[j], data[j + 1]) {
            (b'<', b'<') => {
                depth += 1;
                j += 2;
            }
            (b'>', b'>') => {
                if depth == 0 {
                    return Some(&data[start..j + 2]);
                }
                depth -= 1;
                j += 2;
            }
            _ => j += 1,
        }
    }
    None
}

fn pages_count(dictionary: &[u8]) -> Option<u32> {
    let at = find(dictionary, b"/Count")? + b"/Count".len();
    let digits: Vec<u8> = dictionary[at..]
        .iter()
        .copied()
        .skip_while(u8::is_ascii_whitespace)
        .take_while(u8::is_ascii_digit)
        .take(9)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// Characters that continue a PDF name (anything but whitespace and delimiters).
fn is_name_char(byte: u8) -> bool {
    !(byte.is_ascii_whitespace()
        || matches!(
            byte,
            b'/' | b'<' | b'>' | b'[' | b']' | b'(' | b')' | b'{' | b'}' | b'%' | 0
        ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn occurrences<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(at, _)| at)
}
