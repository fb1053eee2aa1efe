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

/// The gateway transaction id of a demo payment: `demo-<run>-<txn>`. The run is written in
/// base 36 (letters and digits), never as a bare run of 13 or more digits, so the card-number
/// guard cannot mistake it for a card number whatever the clock says.
fn transaction_id(run: &str, txn: &str) -> String {
    format!("demo-{run}-{txn}")
}

/// A run label from a number of milliseconds: base 36, so it mixes letters into every long
/// stretch of digits.
fn run_label(millis: i64) -> String {
    let mut n = millis.unsigned_abs();
    let mut out = Vec::new();
    loop {
        let d = (n % 36) as u8;
        out.push(if d < 10 { b'0' + d } else { b'a' + d - 10 });
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    let label = String::from_utf8(out).expect("ASCII");
    // A base-36 number can still be all digits (rarely, and then short); a prefix letter
    // keeps it from ever being a bare digit run.
    format!("r{label}")
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
            "gateway_transaction_id": transaction_id(run, txn), "amount": amount,
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

/// Registers each sample payment and submits its application; the ids of the requests.
async fn submit_all(
    settings: &Settings,
    client: &reqwest::Client,
    api_url: &str,
    secret: &str,
    run: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    // The demo merchants refund through the sandbox gateway, which only refunds payments it
    // knows: seed each one there too, as the real gateway would know it.
    let sandbox = crate::app::sandbox_url(settings)
        .map(|url| shared::gateway::SandboxGateway::at(&url, Duration::from_secs(5)))
        .transpose()?;
    let samples = samples(run);
    let total = samples.len() * 2;
    let mut done = 0;
    let mut submitted = Vec::new();
    for sample in &samples {
        progress(done, total, sample.label);
        let payment = client
            .post(format!("{api_url}/v1/payments"))
            .bearer_auth(secret)
            .json(&sample.payment)
            .send()
            .await?;
        let payment = api_json(
            &format!("registering the payment for {:?}", sample.label),
            payment,
        )
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
        let accepted = client
            .post(format!("{api_url}/v1/refund-requests"))
            .bearer_auth(secret)
            .header("idempotency-key", format!("demo-{run}-{done}"))
            .json(&application)
            .send()
            .await?;
        let accepted = api_json(
            &format!("submitting the application for {:?}", sample.label),
            accepted,
        )
        .await?;
        done += 1;
        progress(done, total, sample.label);
        submitted.push((
            sample.label,
            accepted["id"].as_str().unwrap_or("").to_string(),
        ));
    }
    Ok(submitted)
}

/// The JSON body of a successful answer, or an error naming the problem the API described
/// (`title` and `detail` of its problem document), not only the status.
async fn api_json(what: &str, response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    if status.is_success() {
        return Ok(response.json().await?);
    }
    let body = response.text().await.unwrap_or_default();
    anyhow::bail!("{}", describe_failure(what, status.as_u16(), &body))
}

/// `<what> failed: 422 <title>: <detail>` from a problem document, or the raw body.
fn describe_failure(what: &str, status: u16, body: &str) -> String {
    let problem = serde_json::from_str::<Value>(body).ok();
    let field = |name: &str| {
        problem
            .as_ref()
            .and_then(|p| p[name].as_str())
            .map(str::to_owned)
    };
    let fields: Vec<String> = problem
        .as_ref()
        .and_then(|p| p["errors"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(format!(
                "{}: {}",
                e["field"].as_str()?,
                e["message"].as_str()?
            ))
        })
        .collect();
    match (field("title"), field("detail")) {
        (Some(title), Some(detail)) if fields.is_empty() => {
            format!("{what} failed: {status} {title}: {detail}")
        }
        (Some(title), Some(detail)) => format!(
            "{what} failed: {status} {title}: {detail} ({})",
            fields.join("; ")
        ),
        (Some(title), None) => format!("{what} failed: {status} {title}"),
        _ if body.trim().is_empty() => format!("{what} failed: {status}"),
        _ => format!("{what} failed: {status}: {}", body.trim()),
    }
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
    let run = run_label(Utc::now().timestamp_millis());
    // The demo files payments and requests for all five demo merchants.
    let key = api_keys::create(
        &pool,
        ApiRole::Supervisor,
        &MerchantScope::AllMerchants,
        &format!("demo-{run}"),
    )
    .await?;

    let submitted = match submit_all(settings, &client, api_url, &key.secret, &run).await {
        Ok(submitted) => submitted,
        Err(e) => {
            eprintln!();
            // A failed run leaves no supervisor key behind.
            match api_keys::revoke(&pool, &key.id.to_string()).await {
                Ok(_) => eprintln!("the demo key demo-{run} was revoked"),
                Err(revoke) => eprintln!(
                    "the demo key demo-{run} could not be revoked ({revoke}): refundd api-key revoke demo-{run}"
                ),
            }
            return Err(e);
        }
    };
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
    println!(
        "  console:   {api_url}/console (sign in with the key below; each request at {api_url}/console/requests/<id>)"
    );
    println!("  statuses:  curl -H 'Authorization: Bearer <key>' {api_url}/v1/refund-requests");
    println!("  API docs:  {api_url}/docs");
    println!(
        "  key used:  an all-merchants supervisor key named demo-{run} (revoke: refundd api-key revoke demo-{run})"
    );
    println!("  this key, to try the API yourself (shown once):");
    println!("{}", key.secret);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_never_look_like_card_numbers() {
        // Every millisecond of a long stretch of time, and the samples' own ids.
        let start = Utc::now().timestamp_millis();
        for ms in (start - 2_000_000..start + 2_000_000).step_by(7) {
            let run = run_label(ms);
            for txn in ["as", "saas", "course", "goods", "lv"] {
                let id = transaction_id(&run, txn);
                assert!(!shared::cards::contains_card_number(&id), "{id}");
            }
        }
        for sample in samples(&run_label(start)) {
            let id = sample.payment["gateway_transaction_id"].as_str().unwrap();
            assert!(!shared::cards::contains_card_number(id), "{id}");
        }
    }

    #[test]
    fn the_old_timestamp_ids_were_refused_sometimes() {
        // Why the run label changed: a 14-digit timestamp is Luhn-valid one time in ten.
        let refused = (0..100)
            .map(|s| format!("demo-202612030800{s:02}-as"))
            .filter(|id| shared::cards::contains_card_number(id))
            .count();
        assert!(refused > 0);
    }

    #[test]
    fn failures_name_the_problem() {
        let body = r#"{"type":"/problems/validation","title":"Invalid request","status":422,"detail":"the body has problems","errors":[{"field":"gateway_transaction_id","message":"looks like a card number"}]}"#;
        assert_eq!(
            describe_failure("registering the payment", 422, body),
            "registering the payment failed: 422 Invalid request: the body has problems (gateway_transaction_id: looks like a card number)"
        );
        assert_eq!(
            describe_failure("x", 502, "bad gateway"),
            "x failed: 502: bad gateway"
        );
    }
}
