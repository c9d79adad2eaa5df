//! The demo: the whole customer journey against a fresh in-process stack on free ports, over
//! HTTP only (the local API, its `/dev/` routes, the stand-in's hosted page and REST API), with
//! a readable report. Every figure is checked; the demo passes only if all are right.
//!
//! sign-up → checkout session → hosted page paid with 4242 → `active` → $8.00 of OpenAI cost in
//! 50 records ($16.00 billed, $6.00 over the $10 allowance) → the subscription endpoint shows it →
//! the meter has the units (600 in mode `app`, 1,600 in mode `stripe`) → the clock crosses the
//! period end and the invoice's grace hour → `invoice.paid` for **$35.00** ($29 base + $6.00 of
//! usage), read from the stand-in's invoice and seen answered by the webhook function → the new
//! period starts at $0.00.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use billing::money::AllowanceMode;
use billing::period::parse_timestamp;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::stack::{Stack, StackOptions};

/// The OpenAI costs the demo records: 50 records adding up to exactly $8.00, half written as
/// decimal text and half as JSON numbers.
pub fn demo_costs() -> Vec<&'static str> {
    (0..50)
        .map(|i| if i % 2 == 0 { "0.100001" } else { "0.219999" })
        .collect()
}

/// One checked step of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Whether the figures were right.
    pub ok: bool,
    /// What was checked and seen.
    pub text: String,
}

/// The outcome of one mode's journey.
#[derive(Debug, Clone)]
pub struct Report {
    /// The mode.
    pub mode: AllowanceMode,
    /// The steps, in order (a failed step ends the journey).
    pub steps: Vec<Step>,
    /// How long the journey took, the stack's start included.
    pub took: Duration,
}

impl Report {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        !self.steps.is_empty() && self.steps.iter().all(|s| s.ok)
    }

    /// The readable report.
    pub fn render(&self) -> String {
        let mut out = format!("== Demo, allowance mode `{}` ==\n", self.mode);
        for step in &self.steps {
            let _ = writeln!(
                out,
                "  {}  {}",
                if step.ok { "ok  " } else { "FAIL" },
                step.text
            );
        }
        let _ = writeln!(
            out,
            "  => {} in {:.1} s",
            if self.passed() { "PASS" } else { "FAIL" },
            self.took.as_secs_f64()
        );
        out
    }
}

/// Why a step could not even be checked.
#[derive(Debug, thiserror::Error)]
enum DemoError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Check(String),
}

struct Journey {
    http: reqwest::Client,
    api: String,
    stripe: String,
    key: String,
    steps: Vec<Step>,
}

impl Journey {
    fn check(&mut self, ok: bool, text: impl Into<String>) -> Result<(), DemoError> {
        let text = text.into();
        self.steps.push(Step {
            ok,
            text: text.clone(),
        });
        if ok {
            Ok(())
        } else {
            Err(DemoError::Check(String::new()))
        }
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<(u16, Value), DemoError> {
        let mut request = self.http.post(format!("{}{path}", self.api)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn post_raw(
        &self,
        path: &str,
        token: &str,
        body: String,
    ) -> Result<(u16, Value), DemoError> {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Result<Value, DemoError> {
        let mut request = self.http.get(format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Ok(request.send().await?.json().await?)
    }

    async fn stripe_get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, DemoError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        Ok(self
            .http
            .get(format!("{}{path}?{query}", self.stripe))
            .bearer_auth(&self.key)
            .send()
            .await?
            .json()
            .await?)
    }

    /// Polls `probe` every 100 ms for up to `secs` seconds until it answers `Some`.
    async fn wait_for<T, F, Fut>(&self, secs: u64, mut probe: F) -> Result<Option<T>, DemoError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, DemoError>>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(found) = probe().await? {
                return Ok(Some(found));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// What paying a hosted Checkout page did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidCheckout {
    /// The page's HTTP status.
    pub page_status: u16,
    /// The status of the form's submission (303 when paid; 0 when the page had no form).
    pub status: u16,
    /// Where the submission redirects (the session's `success_url` when paid).
    pub location: String,
}

/// Opens the stand-in's hosted Checkout page at `url` and pays it with the test card 4242 4242
/// 4242 4242, as a customer would.
pub async fn pay_hosted_checkout(
    http: &reqwest::Client,
    url: &str,
) -> Result<PaidCheckout, reqwest::Error> {
    let page = http.get(url).send().await?;
    let page_status = page.status().as_u16();
    let html = page.text().await?;
    let Some(action) = html
        .split("<form method=\"post\" action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
    else {
        return Ok(PaidCheckout {
            page_status,
            status: 0,
            location: String::new(),
        });
    };
    let origin = url.split("/c/pay/").next().unwrap_or("");
    let paid = http
        .post(format!("{origin}{action}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("card_number=4242+4242+4242+4242&card_expiry=12+%2F+34&card_cvc=123")
        .send()
        .await?;
    let location = paid
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or("")
        .to_string();
    Ok(PaidCheckout {
        page_status,
        status: paid.status().as_u16(),
        location,
    })
}

fn usd(value: &Value) -> String {
    value.as_str().unwrap_or("?").to_string()
}

fn cents(amount: i64) -> String {
    format!("${}.{:02}", amount / 100, amount % 100)
}

/// Runs the journey in `mode` against a fresh in-process stack; never panics.
pub async fn run(mode: AllowanceMode) -> Report {
    let started = Instant::now();
    let mut steps = Vec::new();
    match Stack::start(StackOptions::ephemeral(mode)).await {
        Ok(stack) => {
            let info = stack.info().clone();
            steps.push(Step {
                ok: true,
                text: format!(
                    "fresh stack: local API {}, Stripe stand-in {}, set up by billing-admin (webhook secret {}…) in {:.2} s",
                    info.api_base_url,
                    info.stripe_base_url,
                    info.webhook_secret.chars().take(12).collect::<String>(),
                    started.elapsed().as_secs_f64()
                ),
            });
            steps.extend(journey(&stack, mode).await);
            stack.shutdown().await;
        }
        Err(e) => steps.push(Step {
            ok: false,
            text: format!("the stack did not start: {e}"),
        }),
    }
    Report {
        mode,
        steps,
        took: started.elapsed(),
    }
}

async fn journey(stack: &Stack, mode: AllowanceMode) -> Vec<Step> {
    let info = stack.info();
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(90))
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            return vec![Step {
                ok: false,
                text: format!("no HTTP client: {e}"),
            }];
        }
    };
    let mut j = Journey {
        http,
        api: info.api_base_url.clone(),
        stripe: info.stripe_base_url.clone(),
        key: info.stripe_api_key.clone(),
        steps: Vec::new(),
    };
    if let Err(e) = steps(&mut j, mode).await {
        let text = e.to_string();
        if !text.is_empty() {
            j.steps.push(Step { ok: false, text });
        }
    }
    j.steps
}

async fn steps(j: &mut Journey, mode: AllowanceMode) -> Result<(), DemoError> {
    // 1. Sign-up: Cognito's PostConfirmation trigger creates the Stripe customer on a test clock.
    let (status, signup) = j
        .post(
            "/dev/signup",
            None,
            json!({"email": "ann@example.com", "name": "Ann Example"}),
        )
        .await?;
    let token = signup["token"].as_str().unwrap_or("").to_string();
    let customer_id = signup["customer_id"].as_str().unwrap_or("").to_string();
    let stripe_customer = signup["stripe_customer_id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let customer = j
        .stripe_get(&format!("/v1/customers/{stripe_customer}"), &[])
        .await?;
    let clock = customer["test_clock"].as_str().unwrap_or("").to_string();
    j.check(
        status == 201 && !token.is_empty() && stripe_customer.starts_with("cus_") && clock.starts_with("clock_"),
        format!("sign-up of ann@example.com: customer {customer_id}, Stripe customer {stripe_customer} on test clock {clock} (HTTP {status})"),
    )?;

    // 2. A checkout session through the API (JWT), paid on the hosted page with 4242.
    let (status, session) = j
        .post("/admin/billing/checkout-session", Some(&token), json!({}))
        .await?;
    let url = session["url"].as_str().unwrap_or("").to_string();
    let session_id = session["id"].as_str().unwrap_or("").to_string();
    j.check(
        status == 200 && session_id.starts_with("cs_test_"),
        format!("POST /admin/billing/checkout-session → {status}, session {session_id}"),
    )?;
    let PaidCheckout {
        page_status,
        status: paid_status,
        location,
    } = pay_hosted_checkout(&j.http, &url).await?;
    let expected_location = format!("{}/?checkout=success", j.api);
    j.check(
        page_status == 200 && paid_status == 303 && location == expected_location,
        format!("hosted page {url} (HTTP {page_status}) paid with 4242 4242 4242 4242 → {paid_status} to {location}"),
    )?;

    // 3. The webhooks make the subscription active.
    let view = j
        .wait_for(20, || async {
            let view = j.get("/admin/billing/subscription", Some(&token)).await?;
            Ok((view["status"] == "active").then_some(view))
        })
        .await?
        .unwrap_or(Value::Null);
    let period_start = view["current_period_start"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let period_end = view["current_period_end"]
        .as_str()
        .unwrap_or("")
        .to_string();
    j.check(
        view["status"] == "active",
        format!(
            "GET /admin/billing/subscription: status {}, period {period_start} → {period_end}",
            view["status"]
        ),
    )?;

    // 4. $8.00 of OpenAI cost in 50 records, through /dev/usage and the stream.
    let costs = demo_costs();
    let total: Decimal = costs.iter().filter_map(|c| Decimal::from_str(c).ok()).sum();
    let mut created = 0;
    for (i, cost) in costs.iter().enumerate() {
        let body = if i % 2 == 0 {
            format!("{{\"openai_cost_usd\": \"{cost}\", \"usage_id\": \"demo-{i:02}\"}}")
        } else {
            format!("{{\"openai_cost_usd\": {cost}, \"usage_id\": \"demo-{i:02}\"}}")
        };
        let (status, _) = j.post_raw("/dev/usage", &token, body).await?;
        if status == 201 {
            created += 1;
        }
    }
    j.check(
        created == 50 && total == Decimal::from(8),
        format!("POST /dev/usage × 50 (25 × $0.100001 as text, 25 × $0.219999 as JSON numbers): {created} recorded, ${} of OpenAI cost", total.round_dp(2)),
    )?;
    let usage = j
        .wait_for(30, || async {
            let view = j.get("/admin/billing/subscription", Some(&token)).await?;
            Ok((view["usage"]["billed_usd"] == "16.00").then_some(view))
        })
        .await?
        .unwrap_or(Value::Null);
    let u = &usage["usage"];
    j.check(
        u["billed_usd"] == "16.00" && u["overage_usd"] == "6.00" && u["remaining_allowance_usd"] == "0.00"
            && u["estimated_next_invoice_usd"] == "35.00",
        format!(
            "GET /admin/billing/subscription: billed ${}, ${} over the ${} allowance, next invoice ${}",
            usd(&u["billed_usd"]), usd(&u["overage_usd"]), usd(&u["allowance_usd"]), usd(&u["estimated_next_invoice_usd"])
        ),
    )?;

    // 5. The meter has the units the mode reports.
    let drained = j
        .wait_for(30, || async {
            let s = j.get("/dev/stream", None).await?;
            Ok((s["pending"] == 0).then_some(s))
        })
        .await?
        .unwrap_or(Value::Null);
    let meters = j.stripe_get("/v1/billing/meters", &[]).await?;
    let meter_id = meters["data"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["event_name"] == "leadmagnet_ai_usage"))
        .and_then(|m| m["id"].as_str())
        .unwrap_or("")
        .to_string();
    let start = parse_timestamp(&period_start).unwrap_or(0);
    let end = parse_timestamp(&period_end).unwrap_or(0);
    let summaries = j
        .stripe_get(
            &format!("/v1/billing/meters/{meter_id}/event_summaries"),
            &[
                ("customer", stripe_customer.clone()),
                ("start_time", (start - start.rem_euclid(60)).to_string()),
                (
                    "end_time",
                    (end + (60 - end.rem_euclid(60)) % 60).to_string(),
                ),
            ],
        )
        .await?;
    let units: i64 = summaries["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|s| whole_units(&s["aggregated_value"]))
                .sum()
        })
        .unwrap_or_default();
    let expected_units = match mode {
        AllowanceMode::App => 600,
        AllowanceMode::Stripe => 1_600,
    };
    j.check(
        units == expected_units,
        format!(
            "meter {meter_id}: {} units reported for the period (expected {expected_units}: {}); stream: {} invocations, {} redelivered",
            units,
            match mode {
                AllowanceMode::App => "the $6.00 over the allowance at $0.01",
                AllowanceMode::Stripe => "all $16.00 at $0.01, the first 1,000 free in the graduated price",
            },
            drained["invocations"], drained["redelivered"]
        ),
    )?;

    // 6. The clock crosses the period end and the invoice's grace hour.
    let (status, advanced) = j
        .post("/dev/clock/advance", Some(&token), json!({"days": 32}))
        .await?;
    let frozen = parse_timestamp(advanced["frozen_time"].as_str().unwrap_or("")).unwrap_or(0);
    j.check(
        status == 200 && frozen >= end + 3_600,
        format!(
            "POST /dev/clock/advance {{\"days\": 32}}: test clock now {} (period end {period_end} + 1 h grace passed)",
            advanced["frozen_time"].as_str().unwrap_or("?")
        ),
    )?;

    // 7. The cycle invoice: paid, $35.00, from the stand-in; its invoice.paid answered 200.
    let invoice = j
        .wait_for(20, || async {
            let list = j
                .stripe_get(
                    "/v1/invoices",
                    &[
                        ("customer", stripe_customer.clone()),
                        ("status", "paid".into()),
                    ],
                )
                .await?;
            Ok(list["data"].as_array().and_then(|l| {
                l.iter()
                    .find(|i| i["billing_reason"] == "subscription_cycle")
                    .cloned()
            }))
        })
        .await?
        .unwrap_or(Value::Null);
    let invoice_id = invoice["id"].as_str().unwrap_or("").to_string();
    let lines: Vec<(String, i64, i64)> = invoice["lines"]["data"]
        .as_array()
        .map(|lines| {
            lines
                .iter()
                .map(|l| {
                    (
                        l["description"].as_str().unwrap_or("").to_string(),
                        l["amount"].as_i64().unwrap_or(0),
                        l["quantity"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let base_ok = lines
        .iter()
        .any(|(_, amount, qty)| *amount == 2_900 && *qty == 1);
    let usage_ok = lines
        .iter()
        .any(|(_, amount, qty)| *amount == 600 && *qty == expected_units);
    let paid = invoice["amount_paid"].as_i64().unwrap_or(0);
    j.check(
        paid == 3_500
            && invoice["total"].as_i64() == Some(3_500)
            && base_ok
            && usage_ok
            && lines.len() == 2
            && invoice["period_end"].as_i64() == Some(end),
        format!(
            "invoice {invoice_id} ({}): paid {} = {}",
            invoice["status"].as_str().unwrap_or("?"),
            cents(paid),
            lines
                .iter()
                .map(|(d, a, _)| format!("{} for {d}", cents(*a)))
                .collect::<Vec<_>>()
                .join(" + ")
        ),
    )?;
    let received = j
        .wait_for(20, || async {
            let log = j.get("/dev/webhooks", None).await?;
            Ok(log.as_array().and_then(|l| {
                l.iter()
                    .find(|w| {
                        w["event_type"] == "invoice.paid"
                            && w["object_id"] == invoice_id.as_str()
                            && w["status"] == 200
                    })
                    .cloned()
            }))
        })
        .await?
        .unwrap_or(Value::Null);
    j.check(
        !received.is_null(),
        format!(
            "webhook invoice.paid {} for {invoice_id} delivered signed to POST /v1/stripe/webhook, answered {}",
            received["event_id"].as_str().unwrap_or("(none)"),
            received["status"]
        ),
    )?;

    // 8. The new period starts at $0.00.
    let next = j
        .wait_for(20, || async {
            let view = j.get("/admin/billing/subscription", Some(&token)).await?;
            Ok((view["current_period_start"] == period_end.as_str()).then_some(view))
        })
        .await?
        .unwrap_or(Value::Null);
    j.check(
        next["status"] == "active"
            && next["usage"]["billed_usd"] == "0.00"
            && next["usage"]["estimated_next_invoice_usd"] == "29.00",
        format!(
            "GET /admin/billing/subscription: new period {} → {}, status {}, billed ${}",
            next["current_period_start"].as_str().unwrap_or("?"),
            next["current_period_end"].as_str().unwrap_or("?"),
            next["status"],
            usd(&next["usage"]["billed_usd"])
        ),
    )?;
    Ok(())
}

/// Whole meter units from a summary's `aggregated_value` (`600` or `600.0`), without floats;
/// -1,000,000 (never a plausible figure) for anything else.
fn whole_units(value: &Value) -> i64 {
    value.as_i64().unwrap_or_else(|| {
        let text = value.to_string();
        text.strip_suffix(".0")
            .unwrap_or(&text)
            .parse()
            .unwrap_or(-1_000_000)
    })
}

/// Runs the demo in `modes`, prints each report, and answers the exit code: 0 only if every
/// mode passed.
pub async fn run_and_print(modes: &[AllowanceMode]) -> ExitCode {
    let started = Instant::now();
    let mut all = true;
    for mode in modes {
        let report = run(*mode).await;
        println!("{}", report.render());
        all &= report.passed();
    }
    println!(
        "{} ({} mode{}, {:.1} s)",
        if all { "DEMO PASSED" } else { "DEMO FAILED" },
        modes.len(),
        if modes.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
