//! Checkout Sessions and the hosted Checkout page, driven like a browser posting its form.

use crate::support::{DAY, FEB_28, HOUR, JAN_31, Sim};

#[tokio::test]
async fn a_session_is_open_with_a_hosted_url_and_can_be_read_listed_and_expired() {
    // GIVEN a customer and prices
    let sim = Sim::start().await;
    let plan = sim.plan(true).await;
    // WHEN a subscription-mode session is created
    let r = sim.checkout_session(&plan).await;
    // THEN it is open, unpaid, shaped like Stripe's, with a URL served by the stand-in
    let body = &r.body;
    assert!(r.id().starts_with("cs_test_"), "{}", r.id());
    assert_eq!(body["object"], "checkout.session");
    assert_eq!(body["mode"], "subscription");
    assert_eq!(body["status"], "open");
    assert_eq!(body["payment_status"], "unpaid");
    assert_eq!(body["customer"], plan.customer.as_str());
    assert_eq!(body["client_reference_id"], "tenant-1");
    assert_eq!(body["metadata"]["tenant"], "t1");
    assert_eq!(body["subscription"], serde_json::Value::Null);
    assert_eq!(body["amount_total"], 2900);
    assert_eq!(body["expires_at"], JAN_31 + DAY);
    let url = body["url"].as_str().unwrap();
    assert_eq!(url, sim.url(&format!("/c/pay/{}", r.id())));
    // AND it is retrieved and listed by customer and status
    let read = sim
        .get(&format!("/v1/checkout/sessions/{}", r.id()), &[])
        .await;
    assert_eq!(read.expect_ok(), body);
    let listed = sim
        .get(
            "/v1/checkout/sessions",
            &[("customer", &plan.customer), ("status", "open")],
        )
        .await;
    assert_eq!(listed.body["data"][0]["id"], r.id().as_str());
    // WHEN it is expired
    let expired = sim
        .post(&format!("/v1/checkout/sessions/{}/expire", r.id()), &[])
        .await;
    // THEN it is expired, has no URL, emits checkout.session.expired, and cannot expire twice
    assert_eq!(expired.expect_ok()["status"], "expired");
    assert_eq!(expired.body["url"], serde_json::Value::Null);
    assert_eq!(sim.events_of("checkout.session.expired").await.len(), 1);
    let again = sim
        .post(&format!("/v1/checkout/sessions/{}/expire", r.id()), &[])
        .await;
    again.expect_error(400, "invalid_request_error", None);
    let (status, _, _) = sim.page(url).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn a_metered_line_item_with_a_quantity_is_refused_as_stripe_refuses_it() {
    // GIVEN a base and a metered price
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    // WHEN a session gives the metered item a quantity
    let r = sim
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("customer", &plan.customer),
                ("line_items[0][price]", &plan.base),
                ("line_items[0][quantity]", "1"),
                ("line_items[1][price]", &plan.metered),
                ("line_items[1][quantity]", "1"),
                ("success_url", "https://app.example.com/ok"),
            ],
        )
        .await;
    // THEN Stripe's 400 names line_items[1][quantity]
    let error = r.expect_error(400, "invalid_request_error", None);
    assert_eq!(error["param"], "line_items[1][quantity]");
    assert_eq!(
        error["message"],
        "Quantity should not be specified where usage_type is `metered`. Remove quantity from `line_items[1]`."
    );
    // AND a licensed item without quantity, and another mode, are refused too
    let r = sim
        .post(
            "/v1/checkout/sessions",
            &[
                ("mode", "subscription"),
                ("customer", &plan.customer),
                ("line_items[0][price]", &plan.base),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "line_items[0][quantity]"
    );
    let r = sim
        .post(
            "/v1/checkout/sessions",
            &[("mode", "payment"), ("customer", &plan.customer)],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "mode"
    );
}

#[tokio::test]
async fn the_hosted_page_shows_the_line_items_and_an_accessible_card_form() {
    // GIVEN an open session with a $29 base price and a graduated metered price
    let sim = Sim::start().await;
    let plan = sim.plan(true).await;
    let session = sim.checkout_session(&plan).await;
    // WHEN its page is opened without an API key
    let (status, headers, html) = sim.page(session.body["url"].as_str().unwrap()).await;
    // THEN it is HTML with the prices, a labelled card form posting back, and a cancel link
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(html.contains("$29.00 / month"), "{html}");
    assert!(
        html.contains(
            "First 1,000 units: $0.00 per unit; 1,001 units and above: $0.01 per unit, metered"
        ),
        "{html}"
    );
    assert!(html.contains(&format!(
        "<form method=\"post\" action=\"/c/pay/{}\"",
        session.id()
    )));
    assert!(html.contains("<label for=\"card_number\">Card number</label>"));
    assert!(html.contains("name=\"card_number\""));
    assert!(html.contains("name=\"card_expiry\""));
    assert!(html.contains("name=\"card_cvc\""));
    assert!(html.contains("<button type=\"submit\">Subscribe</button>"));
    assert!(html.contains("href=\"https://app.example.com/billing\""));
    // AND a flat metered price reads as a unit price
    let flat = sim.plan(false).await;
    let session = sim.checkout_session(&flat).await;
    let (_, _, html) = sim.page(session.body["url"].as_str().unwrap()).await;
    assert!(html.contains("$0.01 per unit, metered"), "{html}");
}

#[tokio::test]
async fn paying_with_4242_creates_the_subscription_and_a_paid_first_invoice_then_redirects() {
    // GIVEN an open session
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let session = sim.checkout_session(&plan).await;
    let id = session.id();
    // WHEN the form is posted with the success card, typed with spaces
    let (status, headers, _) = sim
        .submit(
            session.body["url"].as_str().unwrap(),
            &[
                ("card_number", "4242 4242 4242 4242"),
                ("card_expiry", "12 / 34"),
                ("card_cvc", "123"),
            ],
        )
        .await;
    // THEN the browser is sent to success_url with the session id filled in
    assert_eq!(status, 303);
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("https://app.example.com/billing/done?session_id={id}")
    );
    // AND the session is complete and paid, naming its subscription and invoice
    let read = sim.get(&format!("/v1/checkout/sessions/{id}"), &[]).await;
    let body = read.expect_ok();
    assert_eq!(body["status"], "complete");
    assert_eq!(body["payment_status"], "paid");
    let sub_id = body["subscription"].as_str().unwrap();
    let invoice_id = body["invoice"].as_str().unwrap();
    // AND the subscription has one item per line item, the metadata, and the first period
    let sub = sim.get(&format!("/v1/subscriptions/{sub_id}"), &[]).await;
    let sub = sub.expect_ok();
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["metadata"]["tenant"], "t1");
    assert_eq!(sub["latest_invoice"], invoice_id);
    let items = sub["items"]["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["current_period_start"], JAN_31);
    assert_eq!(items[0]["current_period_end"], FEB_28);
    // AND the card is the customer's default payment method
    let customer = sim
        .get(&format!("/v1/customers/{}", plan.customer), &[])
        .await;
    let pm = customer.body["invoice_settings"]["default_payment_method"]
        .as_str()
        .unwrap();
    assert!(pm.starts_with("pm_"));
    // AND the first invoice bills the base price only, and is paid
    let invoice = sim.get(&format!("/v1/invoices/{invoice_id}"), &[]).await;
    let invoice = invoice.expect_ok();
    assert_eq!(invoice["billing_reason"], "subscription_create");
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["total"], 2900);
    assert_eq!(invoice["amount_paid"], 2900);
    assert_eq!(invoice["amount_remaining"], 0);
    assert_eq!(invoice["parent"]["type"], "subscription_details");
    assert_eq!(
        invoice["parent"]["subscription_details"]["subscription"],
        sub_id
    );
    assert_eq!(
        invoice["parent"]["subscription_details"]["metadata"]["tenant"],
        "t1"
    );
    assert!(invoice.get("subscription").is_none());
    assert_eq!(invoice["lines"]["data"].as_array().unwrap().len(), 1);
    let line = &invoice["lines"]["data"][0];
    assert_eq!(line["object"], "line_item");
    assert_eq!(
        line["pricing"]["price_details"]["price"],
        plan.base.as_str()
    );
    assert_eq!(line["period"]["start"], JAN_31);
    assert_eq!(line["period"]["end"], FEB_28);
    assert_eq!(
        line["parent"]["subscription_item_details"]["subscription"],
        sub_id
    );
    // AND the events were recorded
    let types = sim.event_types().await;
    for kind in [
        "checkout.session.completed",
        "customer.subscription.created",
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ] {
        assert!(
            types.contains(&kind.to_string()),
            "{kind} missing from {types:?}"
        );
    }
    let completed = &sim.events_of("checkout.session.completed").await[0];
    assert_eq!(completed["data"]["object"]["subscription"], sub_id);
    assert_eq!(completed["created"], JAN_31);
    // AND the page is gone
    let (status, _, _) = sim.page(&sim.url(&format!("/c/pay/{id}"))).await;
    assert_eq!(status, 410);
}

#[tokio::test]
async fn a_declined_card_shows_the_error_and_creates_no_subscription() {
    // GIVEN an open session
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let session = sim.checkout_session(&plan).await;
    let url = session.body["url"].as_str().unwrap();
    // WHEN the declined test card is posted
    let (status, _, html) = sim
        .submit(
            url,
            &[
                ("card_number", "4000 0000 0000 0002"),
                ("card_expiry", "12/34"),
            ],
        )
        .await;
    // THEN the page comes back with the error, as an alert tied to the form
    assert_eq!(status, 402);
    assert!(
        html.contains("role=\"alert\">Your card was declined.</p>"),
        "{html}"
    );
    assert!(html.contains("aria-describedby=\"card-error\""));
    // AND nothing was created and the session is still open
    let subs = sim
        .get("/v1/subscriptions", &[("customer", &plan.customer)])
        .await;
    assert_eq!(subs.body["data"].as_array().unwrap().len(), 0);
    let read = sim
        .get(&format!("/v1/checkout/sessions/{}", session.id()), &[])
        .await;
    assert_eq!(read.body["status"], "open");
    let (status, _, _) = sim.page(url).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_0341_card_subscribes_but_the_renewal_charge_fails() {
    // GIVEN a subscription paid at Checkout with the card whose later charges fail
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4000000000000341").await;
    let first = sim.invoices(&plan.customer).await;
    assert_eq!(first[0]["status"], "paid");
    // WHEN the clock passes the period end and the grace period
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    // THEN the renewal invoice is open with a failed attempt and a retry scheduled
    let invoices = sim.invoices(&plan.customer).await;
    let renewal = &invoices[0];
    assert_eq!(renewal["billing_reason"], "subscription_cycle");
    assert_eq!(renewal["status"], "open");
    assert_eq!(renewal["attempt_count"], 1);
    assert_eq!(renewal["next_payment_attempt"], FEB_28 + HOUR + 3 * DAY);
    // AND the subscription is past_due, announced with invoice.payment_failed
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "past_due");
    assert_eq!(sim.events_of("invoice.payment_failed").await.len(), 1);
    let updated = &sim.events_of("customer.subscription.updated").await[0];
    assert_eq!(updated["data"]["previous_attributes"]["status"], "active");
}

#[tokio::test]
async fn an_open_session_expires_by_itself_after_24_hours_on_the_clock() {
    // GIVEN an open session for a customer on a test clock
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let session = sim.checkout_session(&plan).await;
    // WHEN the clock moves 24 hours on
    sim.advance(&plan.clock, JAN_31 + DAY).await;
    // THEN the session has expired, with its event at the expiry time
    let read = sim
        .get(&format!("/v1/checkout/sessions/{}", session.id()), &[])
        .await;
    assert_eq!(read.body["status"], "expired");
    let expired = sim.events_of("checkout.session.expired").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["created"], JAN_31 + DAY);
}
