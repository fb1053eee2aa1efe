//! Throughput of the email intake's parser over the whole test corpus (33 realistic emails:
//! charsets, HTML-only, attachments, forwards, replies, machine mail). The baseline is
//! mail-parser alone reading the same bytes, work every intake does anyway; next to it
//! `intake::parse` (MIME, charsets, HTML to text, card masking, language, extraction,
//! classification) and the whole answer path (parse, match against candidate payments, what
//! is missing, the automatic answer). All in the same run, so the ratios hold on any machine.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::MessageParser;
use shared::intake::{
    CandidatePayment, RequestTag, auto_reply, match_payment, missing_for_application, parse,
};
use shared::money::{Currency, Money};
use uuid::Uuid;

fn corpus() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/emails");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the intake corpus")
        .map(|e| e.expect("a corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("a corpus email"))
        .collect()
}

fn intake_throughput(c: &mut Criterion) {
    let emails = corpus();
    let bytes: usize = emails.iter().map(Vec::len).sum();
    let paid_at = DateTime::<Utc>::from_timestamp(1_772_000_000, 0).unwrap();
    let candidates: Vec<CandidatePayment> = (0..50u128)
        .map(|i| CandidatePayment {
            id: Uuid::from_u128(i + 1),
            gateway_transaction_id: format!("29044180{i:02}"),
            customer_email: Some(format!("customer{i}@mail.kz")),
            amount: Money::from_minor(2_450_000 + i as i64, Currency::KZT),
            paid_at,
        })
        .collect();
    let tag = RequestTag::for_request(Uuid::from_u128(7));

    let mut group = c.benchmark_group("intake");
    group.throughput(Throughput::Elements(emails.len() as u64));
    group.bench_function("baseline: mail-parser alone", |b| {
        b.iter(|| {
            for raw in &emails {
                black_box(MessageParser::default().parse(black_box(raw.as_slice())));
            }
        });
    });
    group.bench_function("intake::parse", |b| {
        b.iter(|| {
            for raw in &emails {
                let _ = black_box(parse(black_box(raw)));
            }
        });
    });
    group.bench_function("parse, match, answer", |b| {
        b.iter(|| {
            for raw in &emails {
                if let Ok(email) = parse(black_box(raw)) {
                    let matched = match_payment(&email, &candidates);
                    let missing = missing_for_application(&email, &matched);
                    black_box(auto_reply(&email, &missing, None, "Webshop", &tag));
                }
            }
        });
    });
    group.finish();
    println!(
        "intake corpus: {} emails, {} KiB in all",
        emails.len(),
        bytes / 1024
    );
}

criterion_group!(benches, intake_throughput);
criterion_main!(benches);
