//! Throughput of the decision engine. The group prints elements per second for a baseline
//! (reading the request JSON, work every quote does anyway) next to `decide` alone and the
//! whole `refundd quote` path (read, decide, print), all measured in the same run so the
//! ratio holds on any machine.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use shared::calendar::WorkingDayCalendar;
use shared::policy::{PolicyPacks, QuoteInput, decide};

/// One request per shipped pack, each reaching an approving rule (the longest path).
const REQUESTS: [&str; 5] = [
    r#"{"policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00"},
        "received_at": "2026-03-20T12:00:00+03:00", "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 35}}"#,
    r#"{"policy": "kz-saas-subscription",
        "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-03-02T09:00:00+05:00"},
        "received_at": "2026-03-10T12:00:00+05:00", "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "reason_text": "not needed"}}"#,
    r#"{"policy": "by-app-studio",
        "payment": {"amount": "1200.00", "currency": "BYN", "paid_at": "2026-03-02"},
        "received_at": "2026-03-06", "reason": "withdrawal", "facts": {"order_accepted": false}}"#,
    r#"{"policy": "kz-goods-store",
        "payment": {"amount": "25990.00", "currency": "KZT", "paid_at": "2026-04-01"},
        "received_at": "2026-04-11T10:00:00+05:00", "reason": "withdrawal",
        "facts": {"goods_received_at": "2026-04-03", "goods_intact": true,
                  "proof_of_purchase": true, "identity_document_verified": true},
        "documents": ["refund_application", "identity_document"]}"#,
    r#"{"policy": "lv-webshop",
        "payment": {"amount": "84.90", "currency": "EUR", "paid_at": "2026-03-30"},
        "received_at": "2026-04-02", "reason": "advance_balance", "facts": {"balance": "40.00"}}"#,
];

fn quote_throughput(c: &mut Criterion) {
    let packs = PolicyPacks::builtin();
    let inputs: Vec<QuoteInput> = REQUESTS
        .iter()
        .map(|r| serde_json::from_str(r).expect("bench request parses"))
        .collect();
    let resolved: Vec<_> = inputs
        .iter()
        .map(|input| {
            let pack = packs.get(&input.policy).expect("a shipped pack");
            (pack, WorkingDayCalendar::builtin(pack.country()), input)
        })
        .collect();

    let mut group = c.benchmark_group("quote");
    group.throughput(Throughput::Elements(REQUESTS.len() as u64));
    group.bench_function("baseline: parse request JSON", |b| {
        b.iter(|| {
            for request in REQUESTS {
                black_box(serde_json::from_str::<QuoteInput>(black_box(request)).unwrap());
            }
        });
    });
    group.bench_function("decide", |b| {
        b.iter(|| {
            for (pack, calendar, input) in &resolved {
                black_box(decide(pack, calendar, black_box(input)).unwrap());
            }
        });
    });
    group.bench_function("parse, decide, print JSON", |b| {
        b.iter(|| {
            for request in REQUESTS {
                let input: QuoteInput = serde_json::from_str(black_box(request)).unwrap();
                let pack = packs.get(&input.policy).unwrap();
                let decision =
                    decide(pack, WorkingDayCalendar::builtin(pack.country()), &input).unwrap();
                black_box(serde_json::to_string(&decision).unwrap());
            }
        });
    });
    group.finish();
}

criterion_group!(benches, quote_throughput);
criterion_main!(benches);
