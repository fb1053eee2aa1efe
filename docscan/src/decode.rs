//! From a file's bytes to grey pictures: JPEG and PNG decoded (EXIF orientation applied), the
//! scanned images of a PDF's first pages taken out (JPEG or Flate-compressed grey/RGB). Every
//! size is bounded before memory is spent on it; any byte string gives an answer or an error,
//! never a panic.

use std::io::{Cursor, Read};

use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader};

use crate::ReadError;

/// How much of a file the reader will look at.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest file, in bytes.
    pub max_bytes: usize,
    /// The most pixels in one picture (width × height).
    pub max_pixels: u64,
    /// How many of a PDF's pages are searched for the document's picture.
    pub pdf_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 40_000_000,
            pdf_pages: 3,
        }
    }
}

/// The most one of a PDF's object or cross-reference streams may inflate to while it loads.
const PDF_STREAM_LIMIT: usize = 8 * 1024 * 1024;

/// The kind of file, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Jpeg,
    Png,
    Pdf,
}

pub(crate) fn sniff(bytes: &[u8]) -> Option<Kind> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Kind::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Kind::Png)
    } else if bytes.starts_with(b"%PDF-") {
        Some(Kind::Pdf)
    } else {
        None
    }
}

/// The grey pictures to search, in order: one for an image file, the largest image of each
/// of the first pages for a PDF.
pub fn pictures(bytes: &[u8], limits: &Limits) -> Result<Vec<GrayImage>, ReadError> {
    if bytes.len() > limits.max_bytes {
        return Err(ReadError::TooLarge {
            bytes: bytes.len(),
            max: limits.max_bytes,
        });
    }
    match sniff(bytes) {
        Some(Kind::Jpeg) => Ok(vec![raster(bytes, ImageFormat::Jpeg, limits)?]),
        Some(Kind::Png) => Ok(vec![raster(bytes, ImageFormat::Png, limits)?]),
        Some(Kind::Pdf) => pdf_pictures(bytes, limits),
        None => Err(ReadError::Unsupported(
            "the file is not a JPEG, PNG or PDF (its first bytes say otherwise)".into(),
        )),
    }
}

fn raster(bytes: &[u8], format: ImageFormat, limits: &Limits) -> Result<GrayImage, ReadError> {
    let unreadable = |e: image::ImageError| ReadError::Unreadable(format!("{format:?}: {e}"));
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut image_limits = image::Limits::default();
    let side = u32::try_from(limits.max_pixels.min(u64::from(u32::MAX))).unwrap_or(u32::MAX);
    image_limits.max_image_width = Some(side);
    image_limits.max_image_height = Some(side);
    image_limits.max_alloc = Some(limits.max_pixels * 4);
    reader.limits(image_limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(ReadError::TooLarge {
            bytes: (u64::from(w) * u64::from(h)) as usize,
            max: limits.max_pixels as usize,
        });
    }
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut picture = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    picture.apply_orientation(orientation);
    Ok(picture.to_luma8())
}

fn pdf_pictures(bytes: &[u8], limits: &Limits) -> Result<Vec<GrayImage>, ReadError> {
    // Object and cross-reference streams are inflated while the file loads: each at most
    // `PDF_STREAM_LIMIT` (lopdf's own default is 256 MiB), so a small file cannot balloon.
    let options = lopdf::LoadOptions {
        max_decompressed_size: Some(PDF_STREAM_LIMIT),
        ..lopdf::LoadOptions::default()
    };
    let doc = lopdf::Document::load_mem_with_options(bytes, options)
        .map_err(|e| ReadError::Unreadable(format!("PDF: {e}")))?;
    if doc.is_encrypted() {
        return Err(ReadError::Unsupported(
            "the PDF is encrypted: save it again without a password".into(),
        ));
    }
    let mut out = Vec::new();
    for (_, page) in doc.get_pages().into_iter().take(limits.pdf_pages) {
        let Ok(images) = doc.get_page_images(page) else {
            continue;
        };
        let mut best: Option<GrayImage> = None;
        for image in images {
            let Some(picture) = pdf_image(&image, limits) else {
                continue;
            };
            let area = |p: &GrayImage| u64::from(p.width()) * u64::from(p.height());
            if best.as_ref().is_none_or(|b| area(&picture) > area(b)) {
                best = Some(picture);
            }
        }
        out.extend(best);
    }
    if out.is_empty() {
        return Err(ReadError::Unsupported(format!(
            "no scanned picture in the PDF's first {} pages: send a photo or scan of the document (JPEG, PNG, or a PDF of a scan)",
            limits.pdf_pages
        )));
    }
    Ok(out)
}

/// One image XObject as grey: JPEG (DCTDecode) through the JPEG decoder; Flate-compressed
/// 8-bit DeviceGray or DeviceRGB inflated under a cap of exactly the pixels it declares.
fn pdf_image(image: &lopdf::xobject::PdfImage<'_>, limits: &Limits) -> Option<GrayImage> {
    let (w, h) = (
        u32::try_from(image.width).ok()?,
        u32::try_from(image.height).ok()?,
    );
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > limits.max_pixels {
        return None;
    }
    let filters: Vec<&str> = image
        .filters
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(String::as_str)
        .collect();
    match filters.as_slice() {
        ["DCTDecode"] => raster(image.content, ImageFormat::Jpeg, limits).ok(),
        ["FlateDecode"] => {
            if image.bits_per_component != Some(8) {
                return None;
            }
            let channels = match image.color_space.as_deref() {
                Some("DeviceGray") => 1usize,
                Some("DeviceRGB") => 3,
                _ => return None,
            };
            if image.origin_dict.get(b"DecodeParms").is_ok() {
                // Predictors (PNG-style rows) are not undone here.
                return None;
            }
            let want = w as usize * h as usize * channels;
            let mut raw = Vec::with_capacity(want);
            flate2::read::ZlibDecoder::new(image.content)
                .take(want as u64)
                .read_to_end(&mut raw)
                .ok()?;
            if raw.len() < want {
                return None;
            }
            let grey: Vec<u8> = if channels == 1 {
                raw
            } else {
                raw.chunks_exact(3)
                    .map(|p| {
                        ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114)
                            / 1000) as u8
                    })
                    .collect()
            };
            GrayImage::from_raw(w, h, grey)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_told_apart_by_their_first_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some(Kind::Jpeg));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\nrest"), Some(Kind::Png));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some(Kind::Pdf));
        assert_eq!(sniff(b"GIF89a"), None);
        assert!(matches!(
            pictures(b"GIF89a....", &Limits::default()),
            Err(ReadError::Unsupported(_))
        ));
    }

    #[test]
    fn a_truncated_or_lying_file_is_unreadable_not_a_panic() {
        let limits = Limits::default();
        for bytes in [
            &b"\xFF\xD8\xFF\xE0\x00\x10JFIF"[..],
            &b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"[..],
            &b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF"[..],
        ] {
            assert!(pictures(bytes, &limits).is_err());
        }
    }

    /// A PDF whose object stream inflates from a few kilobytes to 9 MiB (a decompression
    /// bomb in miniature): refused while loading, not inflated.
    fn pdf_with_object_stream(inflated: usize) -> Vec<u8> {
        use std::io::Write;
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let mut body = b"4 0 ".to_vec();
        body.resize(inflated, b' ');
        zlib.write_all(&body).unwrap();
        let packed = zlib.finish().unwrap();
        let mut object_stream = format!(
            "<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length {} >>\nstream\n",
            packed.len()
        )
        .into_bytes();
        object_stream.extend(&packed);
        object_stream.extend(b"\nendstream");
        specimens::pdf(&[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec(),
            object_stream,
        ])
    }

    #[test]
    fn a_pdf_stream_that_would_inflate_past_the_limit_is_refused_while_loading() {
        let bomb = pdf_with_object_stream(PDF_STREAM_LIMIT + 1024 * 1024);
        assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
        match pictures(&bomb, &Limits::default()) {
            Err(ReadError::Unreadable(why)) => assert!(why.contains("PDF"), "{why}"),
            other => panic!(
                "expected the PDF to be refused, got {:?}",
                other.map(|p| p.len())
            ),
        }
        // The same file under the limit loads, and is then refused for having no picture.
        let small = pdf_with_object_stream(1024);
        assert!(matches!(
            pictures(&small, &Limits::default()),
            Err(ReadError::Unsupported(_))
        ));
    }

    #[test]
    fn a_picture_larger_than_the_limit_is_refused_before_decoding() {
        let mut png = Vec::new();
        GrayImage::new(300, 200)
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .unwrap();
        let limits = Limits {
            max_pixels: 50_000,
            ..Limits::default()
        };
        assert!(matches!(
            pictures(&png, &limits),
            Err(ReadError::TooLarge { .. })
        ));
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            pictures(&png, &small),
            Err(ReadError::TooLarge { .. })
        ));
        assert_eq!(pictures(&png, &Limits::default()).unwrap()[0].width(), 300);
    }
}
