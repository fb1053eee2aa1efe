//! `refundd demo`: registers a payment for each of the five demo merchants and submits a
//! sample application through the API, the way a support agent would, then prints where to
//! look. Needs a running system (`scripts/run` or `refundd all`).

use std::io::Write;
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use serde_json::{Value, json};
use shared::api_keys::{self, ApiRole, MerchantScope};
use shared::config::Settings;

/// One sample: a payment and an application against it, and what the policy should do.
struct Sample {
    label: &'static str,
    payment: Value,
    application: Value,
}

fn samples(run: &str) -> Vec<Sample> {
    let now = Utc::now();
    let days_ago = |d: i64| (now - Days::days(d)).to_rfc3339();
    let date_days_ago = |d: i64| (now - Days::days(d)).date_naive().to_string();
    let payment = |merchant: &str,
                   policy: &str,
                   txn: &str,
                   amount: &str,
                   currency: &str,
                   paid: String,
                   email: &str,
                   lang: &str,
                   holder: &str| {
        json!({
            "merchant": merchant, "policy": policy, "gateway": "sandbox",
            "gateway_transaction_id": format!("demo-{run}-{txn}"), "amount": amount,
            "currency": currency, "paid_at": paid,
            "card": {"brand": "visa", "last4": "4242"}, "cardholder_name": holder,
            "customer": {"email": email, "language": lang}
        })
    };
    vec![
        Sample {
            label: "App Studio (BY): order not yet accepted, full refund",
            payment: payment(
                "app-studio",
                "by-app-studio",
                "as",
                "120.00",
                "BYN",
                days_ago(1),
                "olga@example.by",
                "ru",
                "OLGA PETROVA",
            ),
            application: json!({"reason": "withdrawal", "facts": {"order_accepted": false}}),
        },
        Sample {
            label: "SaaS KZ: subscription withdrawn after 8 days, pro rata, awaits confirmation",
            payment: payment(
                "saas-kz",
                "kz-saas-subscription",
                "saas",
                "60000.00",
                "KZT",
                days_ago(8),
                "client@example.kz",
                "ru",
                "ASKAR NURLANOV",
            ),
            application: json!({"reason": "withdrawal", "facts": {"access_started_at": date_days_ago(8), "reason_text": "Сервис не подошёл для нашей команды"}}),
        },
        Sample {
            label: "Byskills (BY): course 35 % done, 20 % back",
            payment: payment(
                "byskills",
                "by-online-courses",
                "course",
                "450.00",
                "BYN",
                days_ago(20),
                "ivan@example.by",
                "ru",
                "IVAN IVANOV",
            ),
            application: json!({"reason": "withdrawal", "facts": {"access_started_at": date_days_ago(20), "progress_percent": 35}}),
        },
        Sample {
            label: "Goods KZ: return of intact goods, waits for an identity document",
            payment: payment(
                "goods-kz",
                "kz-goods-store",
                "goods",
                "25990.00",
                "KZT",
                days_ago(6),
                "aigerim@example.kz",
                "kk",
                "SEITKALI AIGERIM",
            ),
            application: json!({"reason": "withdrawal", "facts": {"goods_received_at": date_days_ago(3), "goods_intact": true, "proof_of_purchase": true}}),
        },
        Sample {
            label: "Webshop LV: advance balance back to the customer",
            payment: payment(
                "webshop-lv",
                "lv-webshop",
                "lv",
                "59.90",
                "EUR",
                days_ago(30),
                "janis@example.lv",
                "lv",
                "JANIS BERZINS",
            ),
            application: json!({"reason": "advance_balance", "facts": {"balance": "29.95", "bank_details": "LV80BANK0000435195001"}}),
        },
    ]
}

fn progress(done: usize, total: usize, label: &str) {
    let width = 20;
    let filled = width * done / total.max(1);
    eprint!(
        "\r[{}{}] {done}/{total} {label:<80.80}",
        "#".repeat(filled),
        "-".repeat(width - filled)
    );
    let _ = std::io::stderr().flush();
}

pub async fn run(settings: &Settings, api_url: &str) -> anyhow::Result<()> {
    let api_url = api_url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    client
        .get(format!("{api_url}/healthz"))
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "the API is not answering at {api_url} ({e}); start the system first: scripts/run"
            )
        })?;
    let pool = shared::db::connect(&settings.database_url, 2).await?;
    let run = Utc::now().format("%Y%m%d%H%M%S").to_string();
    // The demo files payments and requests for all five demo merchants.
    let key = api_keys::create(
        &pool,
        ApiRole::Supervisor,
        &MerchantScope::AllMerchants,
        &format!("demo-{run}"),
    )
    .await?;

    // The demo merchants refund through the sandbox gateway, which only refunds payments it
    // knows: seed each one there too, as the real gateway would know it.
    let sandbox = crate::roles::sandbox_url(settings)
        .map(|url| shared::gateway::SandboxGateway::at(&url, Duration::from_secs(5)))
        .transpose()?;
    let samples = samples(&run);
    let total = samples.len() * 2;
    let mut done = 0;
    let mut submitted = Vec::new();
    for sample in &samples {
        progress(done, total, sample.label);
        let payment: Value = client
            .post(format!("{api_url}/v1/payments"))
            .bearer_auth(&key.secret)
            .json(&sample.payment)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if let Some(sandbox) = &sandbox {
            let amount = shared::money::Money::parse(
                sample.payment["amount"].as_str().unwrap_or_default(),
                sample.payment["currency"]
                    .as_str()
                    .unwrap_or_default()
                    .parse()?,
            )?;
            let txn = sample.payment["gateway_transaction_id"]
                .as_str()
                .unwrap_or_default();
            if let Err(e) = sandbox
                .register_payment(txn, amount, shared::gateway::sandbox::CardStatus::Active)
                .await
            {
                eprintln!(
                    "\nthe sandbox gateway did not take payment {txn} ({e}); its refund will wait"
                );
            }
        }
        done += 1;
        progress(done, total, sample.label);
        let mut application = sample.application.clone();
        application["payment"] = json!({"id": payment["id"]});
        let accepted: Value = client
            .post(format!("{api_url}/v1/refund-requests"))
            .bearer_auth(&key.secret)
            .header("idempotency-key", format!("demo-{run}-{done}"))
            .json(&application)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        done += 1;
        progress(done, total, sample.label);
        submitted.push((
            sample.label,
            accepted["id"].as_str().unwrap_or("").to_string(),
        ));
    }
    eprintln!();
    // Give the pipeline a moment, then show where each application stands.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("Submitted {} applications:", submitted.len());
    for (label, id) in &submitted {
        let view: Value = client
            .get(format!("{api_url}/v1/refund-requests/{id}"))
            .bearer_auth(&key.secret)
            .send()
            .await?
            .json()
            .await?;
        println!(
            "  {label}\n    {api_url}/v1/refund-requests/{id}\n    state: {}, amount: {} {}, due: {}",
            view["state"].as_str().unwrap_or("?"),
            view["amount"].as_str().unwrap_or("-"),
            view["currency"].as_str().unwrap_or(""),
            view["due_on"].as_str().unwrap_or("-"),
        );
    }
    println!();
    println!("Where to look:");
    println!("  statuses:  curl -H 'Authorization: Bearer <key>' {api_url}/v1/refund-requests");
    println!("  API docs:  {api_url}/docs");
    println!(
        "  key used:  an all-merchants supervisor key named demo-{run} (revoke: refundd api-key revoke demo-{run})"
    );
    println!("  this key, to try the API yourself (shown once):");
    println!("{}", key.secret);
    Ok(())
}
