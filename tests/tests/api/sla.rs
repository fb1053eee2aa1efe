//! `GET /v1/sla` on seeded requests (open counts by SLA state; time to refund and the share
//! refunded by the due date over 30 days, on each pack's local dates and calendar), and the
//! request list by due date with the `sla` filter, page by page.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;
use shared::api_keys::ApiRole;
use uuid::Uuid;

use crate::helpers::{Seed, client, seed};
use e2e::TestApp;

async fn get(app: &TestApp, path: &str, role: ApiRole) -> reqwest::Response {
    client()
        .get(app.url(path))
        .bearer_auth(app.key(role))
        .send()
        .await
        .unwrap()
}

/// A refunded request: ended (and so refunded) at `refunded_at`.
fn refunded<'a>(
    merchant: &'a str,
    policy: &'a str,
    received_at: DateTime<Utc>,
    refunded_at: DateTime<Utc>,
    due_on: Option<NaiveDate>,
) -> Seed<'a> {
    Seed {
        merchant,
        policy,
        state: "refunded",
        received_at,
        due_on,
        sla_state: Some("on_track"),
        ended_at: Some(refunded_at),
    }
}

fn item<'a>(report: &'a Value, merchant: &str, policy: &str) -> &'a Value {
    report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["merchant"] == merchant && i["policy"] == policy)
        .unwrap_or_else(|| panic!("no figures for {merchant} / {policy}: {report:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_figures_per_merchant_and_pack() {
    let app = TestApp::spawn().await;
    let now = Utc::now();
    // byskills (Belarus, Europe/Minsk = UTC+3): five refunds received at 02:00 UTC 20 days ago,
    // taking 10, 20, 30, 40 and 100 hours.
    let day0 = (now - Duration::days(20)).date_naive();
    let received = day0.and_hms_opt(2, 0, 0).unwrap().and_utc();
    let days = |n: i64| day0 + Duration::days(n);
    let cases = [
        // 12:00 UTC, 15:00 in Minsk on the due date itself: in time.
        (10, Some(days(0))),
        // 22:00 UTC on the due date is already the next day in Minsk: late.
        (20, Some(days(0))),
        (30, Some(days(4))),
        (40, Some(days(-5))),
        (100, Some(days(5))),
    ];
    let by = shared::policy::PolicyPacks::builtin()
        .get("by-online-courses")
        .unwrap();
    let calendar = shared::calendar::Calendars::builtin();
    let calendar = calendar.get(by.country());
    let mut working_days = Vec::new();
    for (hours, due) in cases {
        let at = received + Duration::hours(hours);
        let local = |t: DateTime<Utc>| t.with_timezone(&by.timezone()).date_naive();
        working_days.push(
            calendar
                .working_days_between(local(received), local(at))
                .unwrap() as f64,
        );
        seed(
            &app,
            refunded("byskills", "by-online-courses", received, at, due),
        )
        .await;
    }
    // Refunded 40 days ago: outside the window.
    seed(
        &app,
        refunded(
            "byskills",
            "by-online-courses",
            now - Duration::days(45),
            now - Duration::days(40),
            Some(days(-30)),
        ),
    )
    .await;
    let today = now.date_naive();
    for (sla, due) in [
        ("at_risk", 1),
        ("at_risk", 0),
        ("breached", -2),
        ("on_track", 9),
        ("paused", 3),
    ] {
        seed(&app, Seed::open(sla, Some(today + Duration::days(due)))).await;
    }
    // Rejected yesterday with the SLA state it had then: no longer open, so not breached.
    seed(
        &app,
        Seed {
            state: "rejected",
            ended_at: Some(now - Duration::days(1)),
            ..Seed::open("breached", Some(today - Duration::days(3)))
        },
    )
    .await;

    // goods-kz: one open at risk; one refund in time, one without a due date whose refund
    // time comes from its audit event.
    seed(
        &app,
        Seed {
            merchant: "goods-kz",
            policy: "kz-goods-store",
            ..Seed::open("at_risk", Some(today))
        },
    )
    .await;
    seed(
        &app,
        refunded(
            "goods-kz",
            "kz-goods-store",
            now - Duration::days(3),
            now - Duration::days(1),
            Some(today + Duration::days(5)),
        ),
    )
    .await;
    let undated = seed(
        &app,
        Seed {
            merchant: "goods-kz",
            policy: "kz-goods-store",
            state: "refunded",
            received_at: now - Duration::days(3),
            due_on: None,
            sla_state: None,
            ended_at: None,
        },
    )
    .await;
    sqlx::query(
        "INSERT INTO request_events (request_id, at, actor, from_state, to_state)
         VALUES ($1, $2, 'worker:payout', 'payout_sent', 'refunded')",
    )
    .bind(undated)
    .bind(now - Duration::days(2))
    .execute(&app.db.pool)
    .await
    .unwrap();
    // A merchant no longer configured still shows, after the configured ones.
    seed(
        &app,
        Seed {
            merchant: "legacy-shop",
            ..Seed::open("breached", Some(today - Duration::days(1)))
        },
    )
    .await;

    let r = get(&app, "/v1/sla", ApiRole::Viewer).await;
    assert_eq!(r.status(), 200);
    let report: Value = r.json().await.unwrap();

    assert_eq!(report["window"]["days"], 30);
    let from: DateTime<Utc> = report["window"]["from"].as_str().unwrap().parse().unwrap();
    let to: DateTime<Utc> = report["window"]["to"].as_str().unwrap().parse().unwrap();
    assert_eq!(to - from, Duration::days(30));
    assert!((to - now).num_seconds().abs() < 60);

    let b = item(&report, "byskills", "by-online-courses");
    assert_eq!(b["merchant_name"], "ООО «Байскилз»");
    assert_eq!(b["calendar"], "BY");
    assert_eq!(
        (&b["open"], &b["at_risk"], &b["breached"]),
        (&Value::from(5), &Value::from(2), &Value::from(1)),
        "{b:#}"
    );
    assert_eq!(b["refunded"], 5);
    assert_eq!(b["refunded_within_sla"], 3);
    assert_eq!(b["within_sla_share"], 0.6);
    let t = &b["time_to_refund"];
    assert_eq!(t["median_hours"], 30.0);
    assert_eq!(t["p90_hours"], 76.0);
    working_days.sort_by(f64::total_cmp);
    let p90 = working_days[3] + 0.6 * (working_days[4] - working_days[3]);
    assert_eq!(t["median_working_days"], working_days[2]);
    assert_eq!(
        t["p90_working_days"].as_f64().unwrap(),
        (p90 * 100.0).round() / 100.0
    );
    // Four calendar days cannot hold more than four working days.
    assert!(working_days[4] <= 4.0, "{working_days:?}");

    let g = item(&report, "goods-kz", "kz-goods-store");
    assert_eq!(g["calendar"], "KZ");
    assert_eq!(
        (&g["open"], &g["at_risk"]),
        (&Value::from(1), &Value::from(1))
    );
    assert_eq!(g["refunded"], 2);
    assert_eq!(g["refunded_within_sla"], 1);
    assert_eq!(
        g["within_sla_share"], 1.0,
        "the undated refund is not judged"
    );
    assert_eq!(g["time_to_refund"]["median_hours"], 36.0);
    assert_eq!(g["time_to_refund"]["p90_hours"], 45.6);

    let quiet = item(&report, "webshop-lv", "lv-webshop");
    assert_eq!(quiet["open"], 0);
    assert_eq!(quiet["refunded"], 0);
    assert!(quiet["within_sla_share"].is_null());
    assert!(quiet["time_to_refund"]["median_hours"].is_null());

    let items = report["items"].as_array().unwrap();
    let last = items.last().unwrap();
    assert_eq!(last["merchant"], "legacy-shop");
    assert!(last["merchant_name"].is_null());
    assert_eq!(last["breached"], 1);

    for role in [ApiRole::Supervisor, ApiRole::Support] {
        assert_eq!(get(&app, "/v1/sla", role).await.status(), 200);
    }
    assert_eq!(get(&app, "/v1/sla", ApiRole::Intake).await.status(), 403);
    app.stop().await;
}

/// Every page of a list, following `next_cursor`.
async fn all_pages(app: &TestApp, query: &str) -> Vec<(Uuid, Option<NaiveDate>)> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let mut path = format!("/v1/refund-requests?{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = get(app, &path, ApiRole::Support).await;
        assert_eq!(r.status(), 200, "{path}");
        let page: Value = r.json().await.unwrap();
        for i in page["items"].as_array().unwrap() {
            items.push((
                i["id"].as_str().unwrap().parse().unwrap(),
                i["due_on"].as_str().map(|d| d.parse().unwrap()),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
    panic!("more pages than there are requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_lists_are_by_due_date_page_by_page() {
    let app = TestApp::spawn().await;
    let d = |n: i64| Some(Utc::now().date_naive() + Duration::days(n));
    let mut at_risk = Vec::new();
    for due in [d(3), d(1), d(2), d(1), d(5), d(1)] {
        at_risk.push((seed(&app, Seed::open("at_risk", due)).await, due));
    }
    let breached = seed(&app, Seed::open("breached", d(-1))).await;
    let on_track = seed(&app, Seed::open("on_track", d(10))).await;
    let mut undated = Vec::new();
    for _ in 0..3 {
        undated.push(seed(&app, Seed::open("on_track", None)).await);
    }

    // The sla filter lists the most urgent first: by due date, then id.
    let mut expected = at_risk.clone();
    expected.sort_by_key(|(id, due)| (*due, *id));
    assert_eq!(all_pages(&app, "sla=at_risk&limit=2").await, expected);
    assert_eq!(
        all_pages(&app, "sla=at_risk&sort=due_on&limit=4").await,
        expected
    );
    // Newest first is still there when asked for, and still the default without a filter.
    let mut newest: Vec<Uuid> = at_risk.iter().map(|(id, _)| *id).collect();
    newest.reverse();
    let listed: Vec<Uuid> = all_pages(&app, "sla=at_risk&sort=newest&limit=4")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, newest);
    let first: Value = get(&app, "/v1/refund-requests?limit=1", ApiRole::Support)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["items"][0]["id"], undated[2].to_string());

    // Every request by due date: those without one last, across page boundaries.
    let all = all_pages(&app, "sort=due_on&limit=3").await;
    let ids: Vec<Uuid> = all.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids.len(), 11);
    assert_eq!(ids[0], breached);
    assert_eq!(ids[7], on_track);
    assert_eq!(ids[8..], undated[..]);
    let dated: Vec<NaiveDate> = all.iter().filter_map(|(_, due)| *due).collect();
    assert!(dated.is_sorted(), "{all:?}");
    let breached_only = all_pages(&app, "sla=breached").await;
    assert_eq!(breached_only, vec![(breached, d(-1))]);

    // A cursor only works with the order it came from; a made-up sort is refused.
    let page: Value = get(
        &app,
        "/v1/refund-requests?sla=at_risk&limit=2",
        ApiRole::Support,
    )
    .await
    .json()
    .await
    .unwrap();
    let due_cursor = page["next_cursor"].as_str().unwrap();
    assert!(due_cursor.starts_with("due:"), "{due_cursor}");
    for path in [
        format!("/v1/refund-requests?sort=newest&cursor={due_cursor}"),
        format!("/v1/refund-requests?sla=at_risk&cursor={}", undated[0]),
        "/v1/refund-requests?sort=oldest".to_string(),
        "/v1/refund-requests?sort=due_on&cursor=due:2026-13-01:x".to_string(),
    ] {
        let r = get(&app, &path, ApiRole::Support).await;
        let p = crate::helpers::problem(r, 422).await;
        let field = p["errors"][0]["field"].as_str().unwrap().to_string();
        assert!(field == "cursor" || field == "sort", "{path}: {p}");
    }
    app.stop().await;
}
