//! Item 5 of the benchmarks: latency of the HTTP API's four routes on the local stack (memory
//! store), measured by `wrk` in its own process with `scripts/bench/wrk/route.lua` (see
//! `src/bin/api-latency.rs` for the run).
//!
//! The Lua script makes exactly the requests asked for: one connection per wrk thread, each thread
//! stopping after its share of answers, every request timed in Lua from sending to the parsed
//! answer (wrk 4's own histogram is not used: it adds coordinated-omission samples, so its
//! percentiles are not those of the requests made). wrk's main thread sleeps for its `-d` whatever
//! the threads do, so [`run_wrk`] sends it `SIGINT` once every thread reported its share done,
//! and reads the one JSON line the script's `done()` prints ([`parse_wrk_output`]).
#![allow(clippy::float_arithmetic)] // timings, never money

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

/// The wrk script, relative to the repository root.
pub const SCRIPT: &str = "scripts/bench/wrk/route.lua";
/// The line prefix of the script's result.
pub const JSON_MARKER: &str = "API_LATENCY_JSON ";
/// The line prefix a wrk thread prints when it has made its share of the requests.
pub const DONE_MARKER: &str = "API_LATENCY_THREAD_DONE ";
/// Requests per route sent before wrk's run, not measured (connections, caches, the first
/// checkout session), each checked for a 2xx answer.
pub const WARM_UP: u64 = 20;
/// The event type of the webhook route's deliveries.
pub const WEBHOOK_EVENT_TYPE: &str = "customer.subscription.updated";

/// The repository root (from this crate's manifest directory).
pub fn repo_root() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

/// wrk's own counters, as the script's `done()` reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WrkCounters {
    /// Answers wrk parsed (every thread).
    pub completed: u64,
    /// Socket connect errors.
    pub connect: u64,
    /// Socket read errors.
    pub read: u64,
    /// Socket write errors.
    pub write: u64,
    /// Requests over `--timeout`.
    pub timeout: u64,
    /// Answers with a status over 399.
    pub status: u64,
}

/// One wrk run, as the script's `done()` reports it (latencies in microseconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WrkRun {
    /// Requests answered and timed.
    pub requests: u64,
    /// Answers outside 200-299.
    pub non_2xx: u64,
    /// Answers per status code.
    pub statuses: BTreeMap<String, u64>,
    /// Median (nearest rank).
    pub p50_us: f64,
    /// 90th percentile (nearest rank).
    pub p90_us: f64,
    /// 99th percentile (nearest rank).
    pub p99_us: f64,
    /// Slowest request.
    pub max_us: f64,
    /// Fastest request.
    pub min_us: f64,
    /// Mean.
    pub mean_us: f64,
    /// First request sent to last answer received.
    pub duration_us: f64,
    /// wrk threads (one connection each).
    pub threads: u64,
    /// Webhook deliveries sent (0 for the other routes).
    pub events_sent: u64,
    /// wrk's own counters.
    pub wrk: WrkCounters,
}

impl WrkRun {
    /// Requests per second over the run.
    pub fn rps(&self) -> f64 {
        if self.duration_us > 0.0 {
            self.requests as f64 / (self.duration_us / 1e6)
        } else {
            0.0
        }
    }

    /// What makes this run worthless as a benchmark of `expected` requests: error answers, a
    /// count other than asked, socket errors.
    pub fn problems(&self, expected: u64) -> Vec<String> {
        let mut problems = Vec::new();
        if self.non_2xx > 0 {
            problems.push(format!(
                "{} answers outside 2xx (statuses {:?})",
                self.non_2xx, self.statuses
            ));
        }
        if self.requests != expected {
            problems.push(format!(
                "{} requests timed, {expected} asked",
                self.requests
            ));
        }
        let w = &self.wrk;
        if w.connect + w.read + w.write + w.timeout > 0 {
            problems.push(format!(
                "socket errors: connect {}, read {}, write {}, timeout {}",
                w.connect, w.read, w.write, w.timeout
            ));
        }
        problems
    }
}

/// Why wrk gave no figures.
#[derive(Debug, thiserror::Error)]
pub enum WrkError {
    /// wrk could not be started or watched.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// wrk ended without the script's result line.
    #[error("wrk printed no {JSON_MARKER}line (stdout: {stdout}; stderr: {stderr})")]
    NoResult {
        /// What wrk printed.
        stdout: String,
        /// Its errors.
        stderr: String,
    },
    /// The result line is not the JSON expected.
    #[error("wrk's result line is not the expected JSON: {0}")]
    BadResult(#[source] serde_json::Error),
    /// wrk did not finish in time.
    #[error("wrk did not finish within {0} s")]
    Timeout(u64),
}

/// The script's result in wrk's output.
pub fn parse_wrk_output(stdout: &str, stderr: &str) -> Result<WrkRun, WrkError> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(JSON_MARKER))
        .ok_or_else(|| WrkError::NoResult {
            stdout: stdout.trim().to_string(),
            stderr: stderr.trim().to_string(),
        })?;
    serde_json::from_str(line).map_err(WrkError::BadResult)
}

/// One wrk run to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrkInvocation {
    /// The wrk program.
    pub wrk: String,
    /// The Lua script.
    pub script: PathBuf,
    /// The URL.
    pub url: String,
    /// Requests to make.
    pub requests: u64,
    /// Connections, one per wrk thread.
    pub connections: u32,
    /// The HTTP method.
    pub method: String,
    /// A file holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// A file holding the JSON body.
    pub body_file: Option<PathBuf>,
    /// The signed webhook deliveries, one a line.
    pub events_file: Option<PathBuf>,
}

impl WrkInvocation {
    /// wrk's `-d`: an upper bound only (the run ends when the requests are made).
    pub fn ceiling_secs(&self) -> u64 {
        (self.requests / 10).max(300)
    }

    /// wrk's arguments.
    pub fn args(&self) -> Vec<String> {
        let file = |f: &Option<PathBuf>| {
            f.as_ref()
                .map_or_else(|| "-".to_string(), |p| p.display().to_string())
        };
        vec![
            format!("-t{}", self.connections),
            format!("-c{}", self.connections),
            format!("-d{}s", self.ceiling_secs()),
            "--timeout".into(),
            "30s".into(),
            "-s".into(),
            self.script.display().to_string(),
            self.url.clone(),
            "--".into(),
            self.requests.to_string(),
            self.connections.to_string(),
            self.method.clone(),
            file(&self.token_file),
            file(&self.body_file),
            file(&self.events_file),
        ]
    }

    /// The command as a reader would type it: the script relative to the repository, the
    /// files named by what they hold.
    pub fn display(&self) -> String {
        let named = |f: &Option<PathBuf>, what: &str| {
            if f.is_some() {
                what.to_string()
            } else {
                "-".to_string()
            }
        };
        let script = self
            .script
            .strip_prefix(repo_root())
            .unwrap_or(&self.script)
            .display()
            .to_string();
        format!(
            "wrk -t{c} -c{c} -d{d}s --timeout 30s -s {script} {url} -- {n} {c} {method} {token} {body} {events}",
            c = self.connections,
            d = self.ceiling_secs(),
            url = self.url,
            n = self.requests,
            method = self.method,
            token = named(&self.token_file, "TOKEN_FILE"),
            body = named(&self.body_file, "BODY_FILE"),
            events = named(&self.events_file, "EVENTS_FILE"),
        )
    }
}

/// Runs wrk, sends it `SIGINT` once each thread printed [`DONE_MARKER`] (wrk's main thread would
/// otherwise sleep out its `-d`), and returns its result; at most `limit` in all.
pub fn run_wrk(invocation: &WrkInvocation, limit: Duration) -> Result<WrkRun, WrkError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e| WrkError::Io(what, e)
    };
    let mut child = Command::new(&invocation.wrk)
        .args(invocation.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(&format!("starting {}", invocation.wrk)))?;
    let pid = child.id().to_string();
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| WrkError::Io("wrk stdout".into(), std::io::Error::other("no pipe")))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| WrkError::Io("wrk stderr".into(), std::io::Error::other("no pipe")))?;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with(DONE_MARKER) {
                let _ = done_tx.send(());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let mut done = 0;
    let mut finished = false;
    while done < invocation.connections && !finished {
        match done_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(()) => done += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => finished = true,
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WrkError::Timeout(limit.as_secs()));
        }
    }
    // Every thread is done: end wrk's sleep (again until it exits, in case a signal came
    // before wrk installed its handler; it ignores SIGINT until then).
    while child.try_wait().map_err(io("waiting for wrk"))?.is_none() {
        let _ = Command::new("kill")
            .args(["-INT", &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        std::thread::sleep(Duration::from_millis(50));
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WrkError::Timeout(limit.as_secs()));
        }
    }
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    parse_wrk_output(&stdout, &stderr)
}

/// Writes `text` to `dir/name` and answers the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// A subscription a webhook can be about: (subscription id, Stripe customer id).
pub type Subscribed = (String, String);

/// `n` signed `customer.subscription.updated` deliveries, each with its own event id
/// (`{prefix}{i:06}`), event `i` about `subscriptions[i % len]`, as lines
/// `<Stripe-Signature>\t<body>`: (ids, lines).
pub fn signed_events(
    n: u64,
    prefix: &str,
    subscriptions: &[Subscribed],
    secret: &str,
    now: i64,
) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    let mut lines = String::new();
    for (i, (subscription_id, stripe_customer_id)) in (0..n).zip(subscriptions.iter().cycle()) {
        let id = format!("{prefix}{i:06}");
        let body = crate::payload::event_body(
            &id,
            crate::payload::subscription_object(subscription_id, stripe_customer_id),
        );
        let header = billing::webhook::sign_header(&body, secret, now);
        lines.push_str(&header);
        lines.push('\t');
        lines.push_str(&String::from_utf8_lossy(&body));
        lines.push('\n');
        ids.push(id);
    }
    (ids, lines)
}

/// What a request to the route served by `function` does, for the report.
pub fn work(function: &str) -> &'static str {
    match function {
        "subscription" => {
            "the JWT authorizer (HS256) and the payload 2.0 event, then one store read (the \
             customer) and the view computed from it (status, plan, period, this period's usage); \
             no Stripe call"
        }
        "checkout-session" => {
            "the JWT authorizer, store reads (the customer, its checkout slot) and one Stripe call \
             to the stand-in over loopback: the customer has no subscription, so every request \
             retrieves the open Checkout Session (`GET /v1/checkout/sessions/{id}`) and hands it \
             out again"
        }
        "portal-session" => {
            "the JWT authorizer, one store read (the customer's Stripe customer) and one Stripe \
             call to the stand-in over loopback creating a billing portal session \
             (`POST /v1/billing_portal/sessions`)"
        }
        "stripe-webhook" => {
            "no authorizer; the signature of a ~3 KB `customer.subscription.updated` checked \
             (HMAC-SHA256) and the event parsed, its id claimed (store write), the customer found \
             by Stripe customer (store read), the subscription re-fetched from the stand-in over \
             loopback (one Stripe call), the snapshot stored under its version guard (store \
             write) and the event marked done (store write)"
        }
        _ => "(not described)",
    }
}

fn ms(us: f64) -> f64 {
    (us / 1e3 * 1e3).round() / 1e3
}

/// The JSON line of one route's run.
#[allow(clippy::too_many_arguments)]
pub fn row(
    method: &str,
    route: &str,
    function: &str,
    run: &WrkRun,
    connections: u32,
    command: &str,
    cores: usize,
    extra: Value,
) -> Value {
    let mut row = json!({
        "route": route,
        "method": method,
        "function": function,
        "requests": run.requests,
        "non_2xx": run.non_2xx,
        "statuses": run.statuses,
        "p50_ms": ms(run.p50_us),
        "p90_ms": ms(run.p90_us),
        "p99_ms": ms(run.p99_us),
        "max_ms": ms(run.max_us),
        "mean_ms": ms(run.mean_us),
        "rps": (run.rps() * 10.0).round() / 10.0,
        "connections": connections,
        "threads": run.threads,
        "store": "memory",
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cores": cores,
        "command": command,
    });
    if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}

fn f(row: &Value, key: &str) -> f64 {
    row[key].as_f64().unwrap_or(f64::NAN)
}

/// Milliseconds with three decimals under 1 ms (microsecond figures), two above.
fn show_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

/// The headline row of `docs/PERFORMANCE.md` for this item (no target: measured only).
pub fn headline(rows: &[Value]) -> String {
    if rows.is_empty() {
        return "| **5. API latency** | not measured | none set (measured only) | |".into();
    }
    let p50 = rows.iter().map(|r| f(r, "p50_ms")).fold(f64::NAN, f64::max);
    let p99 = rows.iter().map(|r| f(r, "p99_ms")).fold(f64::NAN, f64::max);
    let p50_min = rows.iter().map(|r| f(r, "p50_ms")).fold(f64::NAN, f64::min);
    format!(
        "| **5. API latency** | p50 {p50_min:.2}–{p50:.2} ms, p99 ≤ {p99:.2} ms over the {} routes ({} requests each, {} connections) | none set (measured only) | |",
        rows.len(),
        rows[0]["requests"],
        rows[0]["connections"]
    )
}

/// The `## 5. API latency` section of `docs/PERFORMANCE.md` from the bin's JSON lines and the
/// command that produced them.
pub fn render_section(rows: &[Value], command: &str) -> String {
    let mut s = String::from("## 5. API latency\n\n");
    if rows.is_empty() {
        s.push_str("Not measured in this run.\n");
        return s;
    }
    let first = &rows[0];
    let connections = first["connections"].as_u64().unwrap_or(0);
    let cores = first["cores"].as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "The HTTP API's four routes on the local stack (`crates/local-stack`: its API Gateway \
         look-alike calls the same handlers the Lambda binaries run; the Stripe stand-in runs in \
         the same process), with the store embedded (memory). {} requests per route, sent by \
         `wrk` from its own process over {connections} keep-alive connections, one per wrk \
         thread, each sending its next request as soon as the previous one is answered; each \
         connection is another signed-in user (a customer of its own, subscribed with usage this \
         period for the subscription and portal routes, signed up only for checkout). Before \
         wrk, {WARM_UP} requests per route warm up the connections and caches and check for a \
         2xx answer; they are not measured. Each \
         request is timed in wrk's Lua script (`{SCRIPT}`) from sending to the parsed answer; \
         percentiles are nearest-rank over every request (wrk's own histogram is not used: it \
         adds coordinated-omission samples). The issue sets no target for this item: these are \
         measurements, not met or missed.\n",
        first["requests"]
    );
    if rows.iter().any(|r| r["build"] == "debug") {
        let _ = writeln!(
            s,
            "> **Debug build**: these figures check that the benchmark runs; they are not \
             performance figures.\n"
        );
    }
    let _ = writeln!(
        s,
        "| route | function | p50 | p90 | p99 | max | requests | non-2xx | requests/s |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| `{} {}` | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            r["method"].as_str().unwrap_or("?"),
            r["route"].as_str().unwrap_or("?"),
            r["function"].as_str().unwrap_or("?"),
            show_ms(f(r, "p50_ms")),
            show_ms(f(r, "p90_ms")),
            show_ms(f(r, "p99_ms")),
            show_ms(f(r, "max_ms")),
            r["requests"],
            r["non_2xx"],
            f(r, "rps"),
        );
    }
    let _ = writeln!(s, "\nWhat one request does, besides the local HTTP hop:\n");
    for r in rows {
        let function = r["function"].as_str().unwrap_or("?");
        let mut line = format!(
            "- `{} {}` ({function}): {}.",
            r["method"].as_str().unwrap_or("?"),
            r["route"].as_str().unwrap_or("?"),
            work(function)
        );
        if let Some(distinct) = r["distinct_events"].as_u64() {
            let _ = write!(
                line,
                " Each request is another event, signed just before the run: {distinct} distinct `{}` events about {} subscriptions in turn, {} duplicates; {} deliveries answered 200 in the stack's log.",
                r["event_type"].as_str().unwrap_or(WEBHOOK_EVENT_TYPE),
                r["subscriptions"],
                r["duplicates"],
                r["deliveries_ok"]
            );
        }
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\nMachine: the load generator and the server share this machine's {cores} cores (wrk's \
         {connections} threads; the stack's tokio runtime, which also runs the Stripe stand-in), \
         so every figure includes waiting for a core, and requests/s is what the pair sustains \
         at {connections} connections, not the server's capacity. Tracing output is off (no \
         subscriber), as it is not part of the work measured.\n"
    );
    let _ = writeln!(s, "Command: `{command}`");
    for r in rows {
        let _ = writeln!(
            s,
            "- {}: `{}`",
            r["function"].as_str().unwrap_or("?"),
            r["command"].as_str().unwrap_or("?")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OUTPUT: &str = "Running 5m test @ http://127.0.0.1:9100/admin/billing/subscription
  4 threads and 4 connections
API_LATENCY_THREAD_DONE 1
API_LATENCY_THREAD_DONE 0
API_LATENCY_THREAD_DONE 3
API_LATENCY_THREAD_DONE 2
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.00us  120.00us   3.10ms   90.00%
  1000 requests in 1.00s, 1.37MB read
Requests/sec:   1000.00
API_LATENCY_JSON {\"requests\":1000,\"non_2xx\":0,\"statuses\":{\"200\":1000},\"p50_us\":401.5,\"p90_us\":520.2,\"p99_us\":1310.0,\"max_us\":3102.7,\"min_us\":250.1,\"mean_us\":430.9,\"duration_us\":250000.0,\"threads\":4,\"events_sent\":0,\"wrk\":{\"completed\":1000,\"connect\":0,\"read\":0,\"write\":0,\"timeout\":0,\"status\":0}}
";

    #[test]
    fn the_scripts_result_line_is_read_from_wrks_output() {
        // GIVEN wrk's output with the script's line WHEN parsed
        let run = parse_wrk_output(OUTPUT, "").unwrap();
        // THEN the figures are the script's, and the rate is requests over the timed span
        assert_eq!(run.requests, 1000);
        assert_eq!(run.statuses.get("200"), Some(&1000));
        assert_eq!(run.p50_us, 401.5);
        assert_eq!(run.p99_us, 1310.0);
        assert_eq!(run.wrk.completed, 1000);
        assert_eq!(run.threads, 4);
        assert_eq!(run.rps(), 4000.0);
        assert!(run.problems(1000).is_empty());
        // AND a count other than asked is a problem
        assert_eq!(run.problems(999).len(), 1);
    }

    #[test]
    fn error_answers_socket_errors_and_a_missing_line_are_refused() {
        let bad = OUTPUT
            .replace("\"non_2xx\":0", "\"non_2xx\":3")
            .replace("\"connect\":0", "\"connect\":2");
        let problems = parse_wrk_output(&bad, "").unwrap().problems(1000);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("3 answers outside 2xx"),
            "{problems:?}"
        );
        assert!(problems[1].contains("connect 2"), "{problems:?}");
        // A run whose script failed prints no line: the error says what wrk printed
        let err =
            parse_wrk_output("Running 5m test\n", "route.lua:80: assertion failed").unwrap_err();
        assert!(matches!(err, WrkError::NoResult { .. }));
        assert!(err.to_string().contains("assertion failed"), "{err}");
        let err = parse_wrk_output("API_LATENCY_JSON {\"requests\":1}\n", "").unwrap_err();
        assert!(matches!(err, WrkError::BadResult(_)), "{err}");
    }

    #[test]
    fn the_command_names_the_script_and_splits_requests_over_connections() {
        let inv = WrkInvocation {
            wrk: "wrk".into(),
            script: repo_root().join(SCRIPT),
            url: "http://127.0.0.1:1/admin/billing/portal-session".into(),
            requests: 1000,
            connections: 4,
            method: "POST".into(),
            token_file: Some(PathBuf::from("/tmp/t")),
            body_file: Some(PathBuf::from("/tmp/b")),
            events_file: None,
        };
        assert_eq!(
            inv.display(),
            "wrk -t4 -c4 -d300s --timeout 30s -s scripts/bench/wrk/route.lua \
             http://127.0.0.1:1/admin/billing/portal-session -- 1000 4 POST TOKEN_FILE BODY_FILE -"
        );
        let args = inv.args();
        assert_eq!(&args[args.len() - 7..][..2], ["--", "1000"]);
        assert_eq!(args.last().unwrap(), "-");
        assert!(repo_root().join(SCRIPT).is_file());
    }

    #[test]
    fn signed_events_are_distinct_and_verify() {
        use billing::webhook::{BillingEvent, SignatureVerifier, StripeEvent};
        use secrecy::SecretString;
        let subscriptions = [
            ("sub_1".to_string(), "cus_1".to_string()),
            ("sub_2".to_string(), "cus_2".to_string()),
        ];
        let (ids, lines) = signed_events(3, "evt_test_", &subscriptions, "whsec_x", 1_800_000_000);
        assert_eq!(
            ids,
            ["evt_test_000000", "evt_test_000001", "evt_test_000002"]
        );
        let mut customers = Vec::new();
        let verifier = SignatureVerifier::new(vec![SecretString::from("whsec_x".to_string())]);
        let mut seen = std::collections::BTreeSet::new();
        for line in lines.lines() {
            let (header, body) = line.split_once('\t').unwrap();
            assert!(!body.contains('\t') && !body.contains('\n'));
            verifier
                .verify(body.as_bytes(), Some(header), 1_800_000_000)
                .unwrap();
            let event = StripeEvent::parse(body.as_bytes()).unwrap();
            assert_eq!(event.event_type, WEBHOOK_EVENT_TYPE);
            seen.insert(event.id.to_string());
            let BillingEvent::SubscriptionUpdated(sub) = event.kind else {
                panic!("{:?}", event.kind)
            };
            customers.push(sub.customer.unwrap().to_string());
        }
        assert_eq!(seen.len(), 3);
        // AND the events go round the subscriptions
        assert_eq!(customers, ["cus_1", "cus_2", "cus_1"]);
    }

    fn sample_rows() -> Vec<Value> {
        let run = parse_wrk_output(OUTPUT, "").unwrap();
        vec![
            row(
                "GET",
                "/admin/billing/subscription",
                "subscription",
                &run,
                4,
                "wrk -t4 ...",
                2,
                json!({}),
            ),
            row(
                "POST",
                "/v1/stripe/webhook",
                "stripe-webhook",
                &run,
                4,
                "wrk -t4 ... EVENTS_FILE",
                2,
                json!({"event_type": WEBHOOK_EVENT_TYPE, "subscriptions": 4, "distinct_events": 1000, "duplicates": 0, "deliveries_ok": 1000}),
            ),
        ]
    }

    #[test]
    fn the_section_has_a_row_per_route_the_work_the_connections_and_the_machine() {
        // GIVEN two routes' lines WHEN rendered
        let doc = render_section(&sample_rows(), "target/release/api-latency --requests 1000");
        // THEN one row per route with its figures
        assert!(doc.starts_with("## 5. API latency\n"), "{doc}");
        let row = doc
            .lines()
            .find(|l| l.starts_with("| `GET /admin/billing/subscription`"))
            .unwrap();
        assert_eq!(
            row,
            "| `GET /admin/billing/subscription` | subscription | 0.402 ms | 0.520 ms | 1.31 ms | 3.10 ms | 1000 | 0 | 4000 |"
        );
        assert!(
            doc.contains("| `POST /v1/stripe/webhook` | stripe-webhook |"),
            "{doc}"
        );
        // AND what each request does, the webhook's events, the connections, the shared cores
        assert!(doc.contains("no Stripe call"), "{doc}");
        assert!(
            doc.contains(
                "1000 distinct `customer.subscription.updated` events about 4 subscriptions in turn, 0 duplicates"
            ),
            "{doc}"
        );
        assert!(doc.contains("over 4 keep-alive connections"), "{doc}");
        assert!(doc.contains("share this machine's 2 cores"), "{doc}");
        assert!(
            doc.contains("Command: `target/release/api-latency --requests 1000`"),
            "{doc}"
        );
        // AND no verdict: the issue sets no target
        assert!(
            !doc.contains("**met**") && !doc.contains("**missed**"),
            "{doc}"
        );
        // AND the figures of a debug build are flagged
        assert_eq!(cfg!(debug_assertions), doc.contains("**Debug build**"));
        assert!(headline(&sample_rows()).contains("p99 ≤ 1.31 ms"));
        assert_eq!(
            render_section(&[], "x"),
            "## 5. API latency\n\nNot measured in this run.\n"
        );
    }

    /// wrk against a small server that counts what it receives: exactly the requests asked for
    /// reach it, and error answers are counted. Needs wrk; skipped without it unless
    /// `BILLING_REQUIRE_WRK=1`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrk_makes_exactly_the_requests_asked_and_counts_error_answers() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        if Command::new("wrk").arg("-v").output().is_err() {
            assert_ne!(
                std::env::var("BILLING_REQUIRE_WRK").as_deref(),
                Ok("1"),
                "BILLING_REQUIRE_WRK=1 but wrk is not installed"
            );
            eprintln!("wrk is not installed: skipped");
            return;
        }
        let hits = Arc::new(AtomicU64::new(0));
        let bodies = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let tokens = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
        let counter = hits.clone();
        let seen = bodies.clone();
        let users = tokens.clone();
        let app = axum::Router::new().route(
            "/{status}",
            axum::routing::any(
                move |axum::extract::Path(status): axum::extract::Path<u16>,
                      headers: axum::http::HeaderMap,
                      body: axum::body::Bytes| {
                    let counter = counter.clone();
                    let seen = seen.clone();
                    let users = users.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        seen.lock().unwrap().insert(body.clone());
                        // The token and the event's signature arrive as set by the script
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_string()
                        };
                        users.lock().unwrap().insert(header("authorization"));
                        let ok = header("authorization").starts_with("Bearer tok")
                            && header("stripe-signature").starts_with("t=1,v1=")
                            && body.starts_with(b"{\"id\":\"evt_");
                        let code = if ok { status } else { 418 };
                        (axum::http::StatusCode::from_u16(code).unwrap(), "{}")
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = std::env::temp_dir().join(format!("api-latency-test-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        let token = write_file(&dir, "token", "tok0\ntok1\ntok2\n").unwrap();
        let events: String = (0..40)
            .map(|i| format!("t=1,v1=sig{i}\t{{\"id\":\"evt_{i}\"}}\n"))
            .collect();
        let events = write_file(&dir, "events", &events).unwrap();
        for (status, requests, non_2xx) in [(200, 37, 0), (503, 12, 12)] {
            hits.store(0, Ordering::SeqCst);
            bodies.lock().unwrap().clear();
            tokens.lock().unwrap().clear();
            let inv = WrkInvocation {
                wrk: "wrk".into(),
                script: repo_root().join(SCRIPT),
                url: format!("http://{addr}/{status}"),
                requests,
                connections: 3,
                method: "POST".into(),
                token_file: Some(token.clone()),
                body_file: None,
                events_file: Some(events.clone()),
            };
            let started = Instant::now();
            let run = tokio::task::spawn_blocking(move || run_wrk(&inv, Duration::from_secs(60)))
                .await
                .unwrap()
                .unwrap();
            // THEN exactly the requests asked reached the server, each timed once
            assert_eq!(run.requests, requests, "{run:?}");
            assert_eq!(hits.load(Ordering::SeqCst), requests);
            // AND each request carried another event
            assert_eq!(bodies.lock().unwrap().len() as u64, requests);
            // AND each connection was another user (a token of its own)
            assert_eq!(
                tokens.lock().unwrap().iter().cloned().collect::<Vec<_>>(),
                ["Bearer tok0", "Bearer tok1", "Bearer tok2"]
            );
            assert_eq!(run.wrk.completed, requests, "{run:?}");
            assert_eq!(run.events_sent, requests, "{run:?}");
            assert_eq!(run.non_2xx, non_2xx, "{run:?}");
            assert_eq!(
                run.statuses.get(&status.to_string()),
                Some(&requests),
                "{run:?}"
            );
            assert!(run.min_us > 0.0 && run.p50_us <= run.p99_us && run.p99_us <= run.max_us);
            // AND wrk did not sleep out its -d
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{:?}",
                started.elapsed()
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
