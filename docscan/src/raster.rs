//! The few raster operations the reader needs, on 8-bit grey images: sampling with bilinear
//! interpolation (and area averaging when shrinking), local (Sauvola) binarisation that copes
//! with uneven light, connected components, and skew by projection profiles.
//!
//! Written here rather than taken from `imageproc`: that crate would bring nalgebra and four
//! versions of glam for three small functions, on a 2-core build machine.

use image::GrayImage;

/// A point-to-point mapping from an output raster to the source image: output pixel
/// `(u, v)` samples the source at `origin + u * du + v * dv` (all in source pixels).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Affine {
    pub origin: (f32, f32),
    pub du: (f32, f32),
    pub dv: (f32, f32),
}

impl Affine {
    pub fn at(&self, u: f32, v: f32) -> (f32, f32) {
        (
            self.origin.0 + u * self.du.0 + v * self.dv.0,
            self.origin.1 + u * self.du.1 + v * self.dv.1,
        )
    }
}

/// The grey value at a fractional position (bilinear); white outside the image.
pub(crate) fn bilinear(img: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let x = x - 0.5;
    let y = y - 0.5;
    let x0 = x.floor();
    let y0 = y.floor();
    let fx = x - x0;
    let fy = y - y0;
    let (x0, y0) = (x0 as i64, y0 as i64);
    let raw = img.as_raw();
    let px = |xx: i64, yy: i64| -> f32 {
        if xx < 0 || yy < 0 || xx >= w || yy >= h {
            255.0
        } else {
            f32::from(raw[(yy * w + xx) as usize])
        }
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bottom = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Resamples `src` into a `width x height` raster through `map`. When one output pixel
/// covers more than about 1.5 source pixels, each output pixel averages a grid of bilinear
/// samples over its footprint, so shrinking does not alias thin strokes away.
pub(crate) fn warp(src: &GrayImage, map: &Affine, width: u32, height: u32) -> GrayImage {
    let step_u = (map.du.0.hypot(map.du.1)).max(map.dv.0.hypot(map.dv.1));
    let k = (step_u / 1.5).ceil().clamp(1.0, 6.0) as usize;
    let mut out = GrayImage::new(width, height);
    let inv = 1.0 / (k * k) as f32;
    for v in 0..height {
        for u in 0..width {
            let mut acc = 0.0;
            for j in 0..k {
                for i in 0..k {
                    let su = u as f32 + (i as f32 + 0.5) / k as f32;
                    let sv = v as f32 + (j as f32 + 0.5) / k as f32;
                    let (x, y) = map.at(su, sv);
                    acc += bilinear(src, x, y);
                }
            }
            out.put_pixel(
                u,
                v,
                image::Luma([(acc * inv).round().clamp(0.0, 255.0) as u8]),
            );
        }
    }
    out
}

/// A binary raster: `true` is ink.
pub(crate) struct Binary {
    pub width: usize,
    pub height: usize,
    pub ink: Vec<bool>,
}

/// Sauvola's local threshold: a pixel is ink when darker than
/// `mean * (1 + k * (deviation / 128 - 1))` over the square of `radius` around it. Flat
/// areas (paper, however lit) stay white; strokes stay ink under a light gradient.
pub(crate) fn sauvola(img: &GrayImage, radius: usize, k: f64) -> Binary {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    // Integral images of values and squares, (w+1) x (h+1).
    let stride = w + 1;
    let mut sum = vec![0u64; stride * (h + 1)];
    let mut sq = vec![0u64; stride * (h + 1)];
    for y in 0..h {
        let mut row = 0u64;
        let mut row_sq = 0u64;
        for x in 0..w {
            let v = u64::from(raw[y * w + x]);
            row += v;
            row_sq += v * v;
            sum[(y + 1) * stride + x + 1] = sum[y * stride + x + 1] + row;
            sq[(y + 1) * stride + x + 1] = sq[y * stride + x + 1] + row_sq;
        }
    }
    let mut ink = vec![false; w * h];
    for y in 0..h {
        let y0 = y.saturating_sub(radius);
        let y1 = (y + radius + 1).min(h);
        for x in 0..w {
            let x0 = x.saturating_sub(radius);
            let x1 = (x + radius + 1).min(w);
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            let s = (sum[y1 * stride + x1] + sum[y0 * stride + x0]) as f64
                - (sum[y0 * stride + x1] + sum[y1 * stride + x0]) as f64;
            let s2 = (sq[y1 * stride + x1] + sq[y0 * stride + x0]) as f64
                - (sq[y0 * stride + x1] + sq[y1 * stride + x0]) as f64;
            let mean = s / n;
            let dev = (s2 / n - mean * mean).max(0.0).sqrt();
            let threshold = mean * (1.0 + k * (dev / 128.0 - 1.0));
            ink[y * w + x] = f64::from(raw[y * w + x]) < threshold;
        }
    }
    Binary {
        width: w,
        height: h,
        ink,
    }
}

/// One 8-connected blob of ink: its bounding box (inclusive-exclusive) and pixel count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Blob {
    pub x0: usize,
    pub y0: usize,
    pub x1: usize,
    pub y1: usize,
    pub pixels: usize,
}

impl Blob {
    pub fn width(&self) -> f32 {
        (self.x1 - self.x0) as f32
    }
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0) as f32
    }
    pub fn cx(&self) -> f32 {
        (self.x0 + self.x1) as f32 / 2.0
    }
    pub fn cy(&self) -> f32 {
        (self.y0 + self.y1) as f32 / 2.0
    }
}

/// The 8-connected components of the ink (union-find over runs of a row).
pub(crate) fn blobs(bin: &Binary) -> Vec<Blob> {
    let (w, h) = (bin.width, bin.height);
    let mut label = vec![0u32; w * h];
    let mut parent: Vec<u32> = vec![0];
    fn find(parent: &mut [u32], mut a: u32) -> u32 {
        while parent[a as usize] != a {
            parent[a as usize] = parent[parent[a as usize] as usize];
            a = parent[a as usize];
        }
        a
    }
    for y in 0..h {
        for x in 0..w {
            if !bin.ink[y * w + x] {
                continue;
            }
            let mut neighbours = [0u32; 4];
            if x > 0 {
                neighbours[0] = label[y * w + x - 1];
            }
            if y > 0 {
                neighbours[1] = label[(y - 1) * w + x];
                if x > 0 {
                    neighbours[2] = label[(y - 1) * w + x - 1];
                }
                if x + 1 < w {
                    neighbours[3] = label[(y - 1) * w + x + 1];
                }
            }
            let mut mine = 0u32;
            for &n in &neighbours {
                if n == 0 {
                    continue;
                }
                let root = find(&mut parent, n);
                if mine == 0 {
                    mine = root;
                } else if root != mine {
                    let (lo, hi) = (mine.min(root), mine.max(root));
                    parent[hi as usize] = lo;
                    mine = lo;
                }
            }
            if mine == 0 {
                mine = parent.len() as u32;
                parent.push(mine);
            }
            label[y * w + x] = mine;
        }
    }
    let mut index = vec![usize::MAX; parent.len()];
    let mut out: Vec<Blob> = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let l = label[y * w + x];
            if l == 0 {
                continue;
            }
            let root = find(&mut parent, l) as usize;
            if index[root] == usize::MAX {
                index[root] = out.len();
                out.push(Blob {
                    x0: x,
                    y0: y,
                    x1: x + 1,
                    y1: y + 1,
                    pixels: 0,
                });
            }
            let b = &mut out[index[root]];
            b.x0 = b.x0.min(x);
            b.x1 = b.x1.max(x + 1);
            b.y0 = b.y0.min(y);
            b.y1 = b.y1.max(y + 1);
            b.pixels += 1;
        }
    }
    out
}

/// The angle (degrees, within ±`max_degrees`) that makes the ink's rows sharpest: for each
/// candidate, the ink is projected onto rotated rows and the sum of squared row counts
/// scored; text lines at the right angle give few, full rows. Positive means lines fall
/// to the right (y grows with x).
pub(crate) fn skew_degrees(bin: &Binary, max_degrees: f32) -> f32 {
    // At most ~60,000 ink points, evenly taken.
    let total = bin.ink.iter().filter(|&&i| i).count();
    if total == 0 {
        return 0.0;
    }
    let keep_every = total.div_ceil(60_000);
    let mut points = Vec::with_capacity(total / keep_every + 1);
    let mut seen = 0usize;
    for y in 0..bin.height {
        for x in 0..bin.width {
            if bin.ink[y * bin.width + x] {
                if seen.is_multiple_of(keep_every) {
                    points.push((x as f32, y as f32));
                }
                seen += 1;
            }
        }
    }
    let rows = (bin.width + bin.height) * 2 + 4;
    let offset = (bin.width + bin.height) as f32;
    let score = |deg: f32| -> f64 {
        let (sin, cos) = deg.to_radians().sin_cos();
        let mut hist = vec![0u32; rows];
        for &(x, y) in &points {
            let r = (y * cos - x * sin + offset).round() as usize;
            if let Some(slot) = hist.get_mut(r) {
                *slot += 1;
            }
        }
        hist.iter().map(|&c| f64::from(c) * f64::from(c)).sum()
    };
    let mut best = (0.0f32, f64::MIN);
    let mut deg = -max_degrees;
    while deg <= max_degrees + 1e-3 {
        let s = score(deg);
        if s > best.1 {
            best = (deg, s);
        }
        deg += 0.5;
    }
    let coarse = best.0;
    let mut deg = coarse - 0.5;
    while deg <= coarse + 0.5 + 1e-3 {
        let s = score(deg);
        if s > best.1 {
            best = (deg, s);
        }
        deg += 0.1;
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(rows: &[&str]) -> Binary {
        let width = rows[0].len();
        Binary {
            width,
            height: rows.len(),
            ink: rows
                .iter()
                .flat_map(|r| r.bytes().map(|b| b == b'#'))
                .collect(),
        }
    }

    #[test]
    fn blobs_join_diagonal_neighbours_and_keep_separate_shapes_apart() {
        let bin = binary(&[
            "#...##", //
            ".#...#", //
            "..#...", //
            "......", //
            "##..#.", //
        ]);
        let mut found = blobs(&bin);
        found.sort_by_key(|b| (b.y0, b.x0));
        let boxes: Vec<_> = found
            .iter()
            .map(|b| (b.x0, b.y0, b.x1, b.y1, b.pixels))
            .collect();
        assert_eq!(
            boxes,
            vec![
                (0, 0, 3, 3, 3),
                (4, 0, 6, 2, 3),
                (0, 4, 2, 5, 2),
                (4, 4, 5, 5, 1)
            ]
        );
    }

    #[test]
    fn a_u_shape_joined_late_is_one_blob() {
        let bin = binary(&[
            "#...#", //
            "#...#", //
            "#####", //
        ]);
        assert_eq!(blobs(&bin).len(), 1);
    }

    #[test]
    fn sauvola_keeps_dark_strokes_on_a_light_gradient_and_leaves_paper_white() {
        let mut img = GrayImage::new(60, 20);
        for (x, y, p) in img.enumerate_pixels_mut() {
            let paper = 120 + (x * 2) as u8; // 120..238 left to right
            p.0[0] = if (28..32).contains(&x) && (5..15).contains(&y) {
                paper / 3
            } else {
                paper
            };
        }
        let bin = sauvola(&img, 7, 0.3);
        let ink: Vec<(usize, usize)> = (0..20)
            .flat_map(|y| (0..60).map(move |x| (x, y)))
            .filter(|&(x, y)| bin.ink[y * 60 + x])
            .collect();
        assert_eq!(ink.len(), 40, "exactly the stroke: {ink:?}");
        assert!(
            ink.iter()
                .all(|&(x, y)| (28..32).contains(&x) && (5..15).contains(&y))
        );
    }

    #[test]
    fn skew_is_found_from_lines_of_dots() {
        for want in [-4.0f32, 0.0, 2.5] {
            let (w, h) = (400usize, 300usize);
            let mut ink = vec![false; w * h];
            let slope = want.to_radians().tan();
            for line in 0..6 {
                for x in (20..380).step_by(3) {
                    let y = 40.0 + line as f32 * 40.0 + x as f32 * slope;
                    for dy in 0..4 {
                        let yy = y as usize + dy;
                        ink[yy * w + x] = true;
                    }
                }
            }
            let got = skew_degrees(
                &Binary {
                    width: w,
                    height: h,
                    ink,
                },
                8.0,
            );
            assert!((got - want).abs() <= 0.15, "wanted {want}, got {got}");
        }
    }

    #[test]
    fn warp_rotates_and_shrinks_through_the_mapping() {
        let mut img = GrayImage::from_pixel(100, 100, image::Luma([255]));
        for y in 40..60 {
            for x in 10..20 {
                img.put_pixel(x, y, image::Luma([0]));
            }
        }
        // Half size: output pixel (u, v) covers source (2u..2u+2, 2v..2v+2).
        let half = warp(
            &img,
            &Affine {
                origin: (0.0, 0.0),
                du: (2.0, 0.0),
                dv: (0.0, 2.0),
            },
            50,
            50,
        );
        assert!(half.get_pixel(7, 25).0[0] < 10);
        assert!(half.get_pixel(3, 25).0[0] > 245);
        assert!(half.get_pixel(7, 35).0[0] > 245);
    }
}
