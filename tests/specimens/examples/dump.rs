//! `cargo run -p specimens --example dump -- SEED INDEX... ` writes those specimens of the
//! seeded set as `/tmp/specimen-SEED-INDEX.jpg` (and their MRZ band, as the benchmark gives it
//! to Tesseract, as `…-band.png`) and prints what each one prints in its MRZ.

fn main() {
    let mut args = std::env::args().skip(1);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .expect("SEED INDEX...");
    let fonts = specimens::Fonts::load();
    for index in args.filter_map(|a| a.parse::<usize>().ok()) {
        let s = specimens::specimen(&fonts, seed, index);
        let path = format!("/tmp/specimen-{seed}-{index}.jpg");
        std::fs::write(&path, &s.jpeg).expect("write");
        let picture = image::load_from_memory(&s.jpeg)
            .expect("our JPEG")
            .to_luma8();
        let (x0, y0, x1, y1) = s.band;
        image::imageops::crop_imm(&picture, x0, y0, x1 - x0, y1 - y0)
            .to_image()
            .save(format!("/tmp/specimen-{seed}-{index}-band.png"))
            .expect("write band");
        println!(
            "{path}: {:?} {:?} photo={} {:?}",
            s.document.country, s.document.kind, s.photo, s.document.lines
        );
    }
}
