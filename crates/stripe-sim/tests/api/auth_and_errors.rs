//! Authentication, unknown URLs, versions and Stripe's error shape.

use crate::support::Sim;

#[tokio::test]
async fn a_request_without_an_api_key_gets_a_401_in_stripes_shape() {
    // GIVEN a running stand-in
    let sim = Sim::start().await;
    // WHEN a request carries no Authorization header
    let r = sim.send(sim.client.get(sim.url("/v1/customers"))).await;
    // THEN it is a 401 invalid_request_error with a request id
    let error = r.expect_error(401, "invalid_request_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key")
    );
    assert!(r.header("request-id").unwrap().starts_with("req_"));
}

#[tokio::test]
async fn live_and_publishable_keys_are_refused_and_test_keys_accepted() {
    let sim = Sim::start().await;
    for key in [
        "sk_live_abcdefghijklmnop",
        "pk_test_abcdefghijklmnop",
        "sk_test_",
    ] {
        // WHEN a non-test-secret key is used
        let r = sim
            .send(sim.client.get(sim.url("/v1/customers")).bearer_auth(key))
            .await;
        // THEN it is refused without echoing the key in full
        let error = r.expect_error(401, "invalid_request_error", None);
        let message = error["message"].as_str().unwrap();
        assert!(message.starts_with("Invalid API Key provided"), "{message}");
        assert!(!message.contains("abcdefghijklmnop"), "{message}");
    }
    // AND any sk_test_ key works, as Bearer or Basic auth
    let r = sim
        .send(
            sim.client
                .get(sim.url("/v1/customers"))
                .bearer_auth("sk_test_other"),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = sim
        .send(
            sim.client
                .get(sim.url("/v1/customers"))
                .basic_auth("sk_test_other", Some("")),
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn unknown_urls_and_methods_get_stripes_unrecognized_url_error() {
    let sim = Sim::start().await;
    // WHEN an unknown path and a known path with a wrong method are requested
    let r = sim.get("/v1/nope", &[]).await;
    // THEN both are 404 invalid_request_error naming the method and path
    let error = r.expect_error(404, "invalid_request_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Unrecognized request URL (GET: /v1/nope)")
    );
    let r = sim
        .send(
            sim.client
                .put(sim.url("/v1/customers"))
                .bearer_auth(crate::support::KEY),
        )
        .await;
    r.expect_error(404, "invalid_request_error", None);
}

#[tokio::test]
async fn the_stripe_version_header_is_accepted_echoed_and_checked() {
    let sim = Sim::start().await;
    // GIVEN a pinned version
    let r = sim
        .send(
            sim.client
                .get(sim.url("/v1/customers"))
                .bearer_auth(crate::support::KEY)
                .header("Stripe-Version", "2024-04-10"),
        )
        .await;
    // THEN it is accepted and echoed
    assert_eq!(r.status, 200);
    assert_eq!(r.header("stripe-version"), Some("2024-04-10"));
    // AND a malformed version is refused
    let r = sim
        .send(
            sim.client
                .get(sim.url("/v1/customers"))
                .bearer_auth(crate::support::KEY)
                .header("Stripe-Version", "latest"),
        )
        .await;
    r.expect_error(400, "invalid_request_error", None);
}

#[tokio::test]
async fn every_response_is_json_with_a_request_id() {
    let sim = Sim::start().await;
    let ok = sim.post("/v1/customers", &[]).await;
    let bad = sim.get("/v1/customers/cus_missing", &[]).await;
    for r in [&ok, &bad] {
        assert!(r.header("request-id").unwrap().starts_with("req_"));
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
    }
    assert_ne!(ok.header("request-id"), bad.header("request-id"));
}
