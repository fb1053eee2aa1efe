//! The chaos suite's short run (the long one is `scripts/chaos`): every role its own process,
//! a couple of hundred applications across the five packs under random SIGKILLs, broker
//! connection closes, backend kills, gateway pauses, SMTP outages and a database outage
//! several times longer than the retry tiers; then every guarantee of `e2e::chaos` checked.
//! `CHAOS_SEED=N` replays a seed (printed first).

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_request_finishes_and_money_and_emails_go_exactly_once_under_faults() {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let report = e2e::chaos::run(e2e::chaos::ChaosConfig::short(seed))
        .await
        .expect("the chaos run could be carried out");
    assert!(
        report.passed(),
        "seed {seed}: {} guarantees broken:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
}
