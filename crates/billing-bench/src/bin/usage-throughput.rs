//! The usage reporter's throughput and calls per record, end to end (see `billing_bench::usage`).
//!
//! `usage-throughput [--store memory|moto] [--records N] [--customers 1,10,1000] [--batch N]`
//! prints one JSON object per customer count. `--store moto` needs `BILLING_TEST_DYNAMODB_ENDPOINT`
//! (fresh tables per run) and counts every DynamoDB request exactly with
//! `billing_test_support::access_log`; `memory` counts through the adapter's per-call mapping
//! (`billing_bench::counting::CountingStore`).

use billing::memory::MemoryStore;
use billing_bench::counting::{AccessLogWrites, CountingStore};
use billing_bench::usage::{self, Workload};
use billing_test_support::Requests;
use billing_test_support::access_log::moto_store_logged;
use serde_json::json;

struct Args {
    store: String,
    records: usize,
    customers: Vec<usize>,
    batch: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        store: "memory".into(),
        records: 10_000,
        customers: vec![1, 10, 1_000],
        batch: 100,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--store" => args.store = value,
            "--records" => args.records = number(&value)?,
            "--batch" => args.batch = number(&value)?,
            "--customers" => {
                args.customers = value
                    .split(',')
                    .map(number)
                    .collect::<Result<Vec<_>, _>>()?;
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        for &customers in &args.customers {
            let workload = Workload {
                records: args.records,
                customers,
                batch_size: args.batch,
            };
            let outcome = match args.store.as_str() {
                "memory" => {
                    let store = CountingStore::new(MemoryStore::new());
                    usage::run(&store, store.writes(), workload).await?
                }
                "moto" => {
                    if std::env::var("BILLING_TEST_DYNAMODB_ENDPOINT").is_err() {
                        return Err("--store moto needs BILLING_TEST_DYNAMODB_ENDPOINT".into());
                    }
                    let (store, log) =
                        moto_store_logged("bench", &format!("usage{customers}"), Requests::Direct)
                            .await
                            .ok_or("no moto endpoint")?;
                    usage::run(&store, &AccessLogWrites(log), workload).await?
                }
                other => return Err(format!("unknown store {other}").into()),
            };
            let mut line = outcome.to_json();
            line["store"] = json!(args.store);
            line["cores"] = json!(cores);
            println!("{line}");
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
