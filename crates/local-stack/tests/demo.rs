//! The demo itself, in both allowance modes: every figure of the journey must be right.

#![allow(clippy::unwrap_used)]

use billing::money::AllowanceMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_in_app_mode() {
    let report = local_stack::demo::run(AllowanceMode::App).await;
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
    assert!(report.steps.len() >= 12);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_in_stripe_mode() {
    let report = local_stack::demo::run(AllowanceMode::Stripe).await;
    println!("{}", report.render());
    assert!(report.passed(), "{}", report.render());
    assert!(report.render().contains("1600 units"));
}
