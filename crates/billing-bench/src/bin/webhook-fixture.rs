//! Writes the benchmark's signed webhook (payload, header, secret, timestamp) as JSON to the path
//! given, for the stripe-node comparison (`scripts/bench/node/webhook.js`), signed now.

use std::time::{SystemTime, UNIX_EPOCH};

use billing_bench::payload;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: webhook-fixture OUT.json")?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    let w = payload::signed(now);
    let fixture = json!({
        "payload": String::from_utf8(w.payload)?,
        "header": w.header,
        "secret": w.secret,
        "timestamp": w.timestamp,
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&fixture)?)?;
    Ok(())
}
