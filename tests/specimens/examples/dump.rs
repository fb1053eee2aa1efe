//! `cargo run -p specimens --example dump -- SEED INDEX... ` writes those specimens of the
//! seeded set as `/tmp/specimen-SEED-INDEX.jpg` and prints what each one prints in its MRZ.

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
        println!(
            "{path}: {:?} {:?} photo={} {:?}",
            s.document.country, s.document.kind, s.photo, s.document.lines
        );
    }
}
