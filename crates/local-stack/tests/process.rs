//! The binary as a user runs it: it prints where everything is, serves, and stops on SIGTERM
//! (and Ctrl-C, the same path) without leaving anything behind.

#![allow(clippy::unwrap_used)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_and_stops_on_sigterm() {
    serves_then_stops_on("-TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_and_stops_on_ctrl_c() {
    serves_then_stops_on("-INT").await;
}

async fn serves_then_stops_on(signal: &str) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .args(["serve", "--api-port", "0", "--stripe-port", "0"])
        .env_remove("AWS_ENDPOINT_URL_DYNAMODB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // GIVEN the banner with the API's URL and a curl line
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let api = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let line = lines.next_line().await.unwrap().unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if let Some(url) = line.trim().strip_prefix("local API") {
                break url.trim().to_string();
            }
        }
    })
    .await
    .unwrap();
    while !banner.contains("Ctrl-C") {
        banner.push_str(&lines.next_line().await.unwrap().unwrap());
    }
    assert!(
        banner.contains(&format!("curl -s -X POST {api}/dev/signup")),
        "{banner}"
    );
    // WHEN asked THEN it serves
    let info: serde_json::Value = reqwest::get(format!("{api}/dev/info"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["api_base_url"], api.as_str());
    let stripe = info["stripe_base_url"].as_str().unwrap().to_string();
    // WHEN the signal arrives
    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    // THEN it exits cleanly and soon, and neither server answers any more
    let status = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    for url in [api, stripe] {
        let refused = reqwest::Client::new()
            .get(format!("{url}/dev/info"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        assert!(refused.is_err(), "{url} still answers");
    }
}
