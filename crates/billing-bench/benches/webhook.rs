//! Webhook verification + parsing against raw HMAC-SHA256 of the same bytes, single thread, on
//! the ~3 KB `customer.subscription.updated` of [`billing_bench::payload`].
//!
//! `cargo bench -p billing-bench --bench webhook`; `scripts/bench/all` reads the medians from
//! `target/criterion/webhook/*/new/estimates.json`.

#![allow(missing_docs)] // criterion_group! generates an undocumented function

use std::hint::black_box;

use billing::webhook::{SignatureVerifier, StripeEvent};
use billing_bench::payload;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::SecretString;
use sha2::Sha256;

fn webhook(c: &mut Criterion) {
    let w = payload::signed(1_800_000_000);
    let verifier = SignatureVerifier::new(vec![SecretString::from(w.secret.clone())]);
    let mut group = c.benchmark_group("webhook");
    group.throughput(Throughput::Bytes(w.payload.len() as u64));
    // What the webhook function does with a delivery before touching the store.
    group.bench_function("verify_and_parse", |b| {
        b.iter(|| {
            let t = verifier
                .verify(
                    black_box(&w.payload),
                    Some(black_box(&w.header)),
                    w.timestamp,
                )
                .expect("the benchmark's webhook verifies");
            let event = StripeEvent::parse(black_box(&w.payload)).expect("and parses");
            black_box((t, event))
        });
    });
    group.bench_function("verify_only", |b| {
        b.iter(|| {
            verifier
                .verify(
                    black_box(&w.payload),
                    Some(black_box(&w.header)),
                    w.timestamp,
                )
                .expect("the benchmark's webhook verifies")
        });
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| StripeEvent::parse(black_box(&w.payload)).expect("parses"));
    });
    // The floor of any serde_json-based parse: validating and skipping the whole body.
    group.bench_function("serde_json_skip_floor", |b| {
        b.iter(|| {
            serde_json::from_slice::<serde::de::IgnoredAny>(black_box(&w.payload)).expect("JSON")
        });
    });
    // The physical limit: one HMAC-SHA256 over exactly the signed bytes ("<t>.<payload>").
    let t = w.timestamp.to_string();
    group.bench_function("raw_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(w.secret.as_bytes()))
                .expect("HMAC takes any key length");
            mac.update(black_box(t.as_bytes()));
            mac.update(b".");
            mac.update(black_box(&w.payload));
            black_box(mac.finalize().into_bytes())
        });
    });
    group.finish();
}

criterion_group!(benches, webhook);
criterion_main!(benches);
