//! Writes `docs/PERFORMANCE.md` from the results `scripts/bench/all` collected.
//!
//! `bench-report RESULTS_DIR CRITERION_DIR OUT.md`. Reads (each optional; a missing one makes its
//! table say "not measured"): `machine.json`, `commands.tsv` (key, command), `webhook-node.json`,
//! criterion's `webhook/*/new/estimates.json`, `usage-memory.jsonl`, `usage-moto.jsonl`,
//! `cold-start.jsonl`, `sizes-arm64.tsv` and `sizes-arm64-before.tsv` (name, bytes),
//! `bloat.txt`, `api-latency.jsonl`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use billing_bench::report::{self, Inputs};
use serde_json::Value;

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|line| serde_json::from_str(line).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn read_tsv(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn criterion_medians(dir: &Path) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir.join("webhook")) else {
        return out;
    };
    for entry in entries.flatten() {
        let estimates = entry.path().join("new").join("estimates.json");
        if let Some(ns) = read_json(&estimates).and_then(|v| v["median"]["point_estimate"].as_f64())
        {
            out.insert(entry.file_name().to_string_lossy().into_owned(), ns);
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-report RESULTS_DIR CRITERION_DIR OUT.md";
    let results = PathBuf::from(args.next().ok_or(usage)?);
    let criterion = PathBuf::from(args.next().ok_or(usage)?);
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let sizes = |name: &str| -> Vec<(String, u64)> {
        read_tsv(&results.join(name))
            .into_iter()
            .filter_map(|(k, v)| v.parse().ok().map(|bytes| (k, bytes)))
            .collect()
    };
    let inputs = Inputs {
        machine: read_json(&results.join("machine.json")).unwrap_or(Value::Null),
        commands: read_tsv(&results.join("commands.tsv"))
            .into_iter()
            .collect(),
        webhook_node: read_json(&results.join("webhook-node.json")),
        webhook_rust_ns: criterion_medians(&criterion),
        usage_memory: read_jsonl(&results.join("usage-memory.jsonl")),
        usage_moto: read_jsonl(&results.join("usage-moto.jsonl")),
        cold_start: read_jsonl(&results.join("cold-start.jsonl")),
        sizes_arm64: sizes("sizes-arm64.tsv"),
        sizes_arm64_before: sizes("sizes-arm64-before.tsv"),
        bloat: std::fs::read_to_string(results.join("bloat.txt")).ok(),
        api_latency: read_jsonl(&results.join("api-latency.jsonl")),
    };
    let markdown = report::render(&inputs);
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, &markdown)?;
    let mut summary = String::new();
    let headline =
        |l: &&str| l.starts_with("| **") && l[4..].starts_with(|c: char| c.is_ascii_digit());
    for line in markdown.lines().filter(headline) {
        let _ = writeln!(summary, "{line}");
    }
    print!("{summary}");
    eprintln!("wrote {}", out.display());
    Ok(())
}
