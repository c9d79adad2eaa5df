//! Customer portal configurations and sessions, and the hosted portal page driven by its forms.

use serde_json::Value;

use crate::support::{FEB_28, HOUR, JAN_31, Sim};

#[tokio::test]
async fn configurations_are_created_default_first_read_listed_and_updated() {
    // GIVEN no configuration yet
    let sim = Sim::start().await;
    // WHEN two are created
    let first = sim
        .post(
            "/v1/billing_portal/configurations",
            &[
                ("business_profile[headline]", "Lead Magnet AI billing"),
                ("default_return_url", "https://app.example.com/account"),
                ("metadata[env]", "test"),
                ("features[subscription_cancel][enabled]", "true"),
                ("features[subscription_cancel][mode]", "immediately"),
                ("features[payment_method_update][enabled]", "true"),
                ("features[invoice_history][enabled]", "true"),
                ("features[customer_update][enabled]", "true"),
                ("features[customer_update][allowed_updates][]", "email"),
            ],
        )
        .await;
    let second = sim.post("/v1/billing_portal/configurations", &[]).await;
    // THEN the first is the default, shaped like Stripe's
    let body = first.expect_ok();
    assert!(first.id().starts_with("bpc_"));
    assert_eq!(body["object"], "billing_portal.configuration");
    assert_eq!(body["is_default"], true);
    assert_eq!(body["active"], true);
    assert_eq!(
        body["business_profile"]["headline"],
        "Lead Magnet AI billing"
    );
    assert_eq!(
        body["default_return_url"],
        "https://app.example.com/account"
    );
    assert_eq!(body["features"]["subscription_cancel"]["enabled"], true);
    assert_eq!(
        body["features"]["subscription_cancel"]["mode"],
        "immediately"
    );
    assert_eq!(body["features"]["payment_method_update"]["enabled"], true);
    assert_eq!(body["features"]["invoice_history"]["enabled"], true);
    assert_eq!(
        body["features"]["customer_update"]["allowed_updates"][0],
        "email"
    );
    assert_eq!(body["metadata"]["env"], "test");
    assert_eq!(second.expect_ok()["is_default"], false);
    assert_eq!(
        second.body["features"]["subscription_cancel"]["mode"],
        "at_period_end"
    );
    // AND they are read and listed by is_default
    let read = sim
        .get(
            &format!("/v1/billing_portal/configurations/{}", first.id()),
            &[],
        )
        .await;
    assert_eq!(read.expect_ok(), body);
    let defaults = sim
        .get(
            "/v1/billing_portal/configurations",
            &[("is_default", "true")],
        )
        .await;
    assert_eq!(defaults.body["data"].as_array().unwrap().len(), 1);
    // WHEN the second is updated and deactivated
    let updated = sim
        .post(
            &format!("/v1/billing_portal/configurations/{}", second.id()),
            &[
                ("active", "false"),
                ("features[subscription_cancel][mode]", "immediately"),
            ],
        )
        .await;
    // THEN the change shows, and only the first is listed as active
    assert_eq!(updated.expect_ok()["active"], false);
    assert_eq!(
        updated.body["features"]["subscription_cancel"]["mode"],
        "immediately"
    );
    let active = sim
        .get("/v1/billing_portal/configurations", &[("active", "true")])
        .await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        sim.events_of("billing_portal.configuration.updated")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_session_without_a_default_configuration_is_refused_as_stripe_refuses_it() {
    // GIVEN a customer and no configuration
    let sim = Sim::start().await;
    let customer = sim.customer("ann@example.com").await;
    // WHEN a session is asked for without naming one
    let r = sim
        .post("/v1/billing_portal/sessions", &[("customer", &customer)])
        .await;
    // THEN it is a 400 pointing at the missing default
    let error = r.expect_error(400, "invalid_request_error", None);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("default configuration")
    );
    // AND with a default configuration the session uses it and has a hosted URL
    let config = sim
        .post("/v1/billing_portal/configurations", &[])
        .await
        .id();
    let r = sim
        .post(
            "/v1/billing_portal/sessions",
            &[
                ("customer", &customer),
                ("return_url", "https://app.example.com/account"),
            ],
        )
        .await;
    let body = r.expect_ok();
    assert!(r.id().starts_with("bps_"));
    assert_eq!(body["object"], "billing_portal.session");
    assert_eq!(body["configuration"], config.as_str());
    assert_eq!(body["customer"], customer.as_str());
    assert_eq!(body["return_url"], "https://app.example.com/account");
    assert_eq!(body["url"], sim.url(&format!("/p/session/{}", r.id())));
    // AND a customer is required
    let r = sim.post("/v1/billing_portal/sessions", &[]).await;
    r.expect_error(400, "invalid_request_error", Some("parameter_missing"));
}

fn cancel_form(html: &str) -> (String, String) {
    let action = html
        .split("<form method=\"post\" action=\"")
        .find_map(|part| part.split('"').next().filter(|a| a.ends_with("/cancel")))
        .unwrap()
        .to_string();
    let sub = html
        .split("name=\"subscription\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    (action, sub)
}

#[tokio::test]
async fn canceling_at_period_end_in_the_portal_ends_the_subscription_at_the_period_end_with_a_final_invoice()
 {
    // GIVEN a subscription with usage, and a portal that cancels at period end
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4242424242424242").await;
    let url = sim.portal_session(&plan.customer, "at_period_end").await;
    // WHEN the portal page is opened
    let (status, _, html) = sim.page(&url).await;
    // THEN it shows the subscription, the card, the invoices and the way back
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Lead Magnet AI billing</h1>"), "{html}");
    assert!(html.contains("$29.00 / month"));
    assert!(html.contains("Visa ending in 4242"));
    assert!(html.contains("<td>$29.00</td><td>paid</td>"), "{html}");
    assert!(html.contains("href=\"https://app.example.com/account\""));
    assert!(html.contains("at the end of the period (2026-02-28)"));
    // WHEN its cancel form is posted
    let (action, form_sub) = cancel_form(&html);
    assert_eq!(form_sub, sub);
    let (status, _, html) = sim
        .submit(&sim.url(&action), &[("subscription", &form_sub)])
        .await;
    // THEN the subscription stays active, set to cancel at period end
    assert_eq!(status, 200);
    assert!(html.contains("Cancels on 2026-02-28."), "{html}");
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "active");
    assert_eq!(read.body["cancel_at_period_end"], true);
    assert_eq!(read.body["cancel_at"], FEB_28);
    let updated = &sim.events_of("customer.subscription.updated").await[0];
    assert_eq!(
        updated["data"]["previous_attributes"]["cancel_at_period_end"],
        false
    );
    // WHEN usage is recorded and the period ends
    sim.advance(&plan.clock, FEB_28 - HOUR).await;
    sim.usage(&plan, 250, FEB_28 - 2 * HOUR).await.expect_ok();
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    // THEN it was deleted at the period end, and a final invoice billed the usage only
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "canceled");
    assert_eq!(read.body["ended_at"], FEB_28);
    let deleted = sim.events_of("customer.subscription.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["created"], FEB_28);
    let last = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(last["period_start"], JAN_31);
    assert_eq!(last["period_end"], FEB_28);
    assert_eq!(last["lines"]["data"].as_array().unwrap().len(), 1);
    assert_eq!(last["total"], 250);
    assert_eq!(last["status"], "paid");
}

#[tokio::test]
async fn canceling_immediately_in_the_portal_deletes_the_subscription_and_invoices_the_usage_so_far()
 {
    // GIVEN a subscription with usage, and a portal that cancels immediately
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4242424242424242").await;
    sim.advance(&plan.clock, JAN_31 + 10 * HOUR).await;
    sim.usage(&plan, 42, JAN_31 + 5 * HOUR).await.expect_ok();
    let url = sim.portal_session(&plan.customer, "immediately").await;
    let (_, _, html) = sim.page(&url).await;
    assert!(
        html.contains("Your subscription will end immediately."),
        "{html}"
    );
    // WHEN its cancel form is posted
    let (action, form_sub) = cancel_form(&html);
    let (status, _, html) = sim
        .submit(&sim.url(&action), &[("subscription", &form_sub)])
        .await;
    // THEN the subscription is canceled now, with customer.subscription.deleted
    assert_eq!(status, 200);
    assert!(html.contains("Your subscription has been canceled."));
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "canceled");
    assert_eq!(read.body["ended_at"], JAN_31 + 10 * HOUR);
    assert_eq!(
        sim.events_of("customer.subscription.deleted").await.len(),
        1
    );
    // AND a final invoice bills the usage so far, charged after the grace hour
    let last = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(last["status"], "draft");
    assert_eq!(last["total"], 42);
    assert_eq!(last["period_end"], JAN_31 + 10 * HOUR);
    sim.advance(&plan.clock, JAN_31 + 12 * HOUR).await;
    let paid = sim
        .get(
            &format!("/v1/invoices/{}", last["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(paid.body["status"], "paid");
}

#[tokio::test]
async fn a_past_due_subscription_recovers_when_the_card_is_replaced_in_the_portal() {
    // GIVEN a renewal that failed with the 0341 card
    let sim = Sim::start().await;
    let plan = sim.plan(false).await;
    let sub = sim.subscribe_with(&plan, "4000000000000341").await;
    sim.advance(&plan.clock, FEB_28 + 2 * HOUR).await;
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "past_due");
    let url = sim.portal_session(&plan.customer, "at_period_end").await;
    let card_action = format!("{url}/payment_method");
    // WHEN a declined card is entered
    let (status, _, html) = sim
        .submit(&card_action, &[("card_number", "4000 0000 0000 0002")])
        .await;
    // THEN the page shows the error and nothing changes
    assert_eq!(status, 402);
    assert!(
        html.contains("role=\"alert\">Your card was declined."),
        "{html}"
    );
    // WHEN another 0341 card is entered
    let (status, _, _) = sim
        .submit(&card_action, &[("card_number", "4000 0000 0000 0341")])
        .await;
    // THEN it attaches, the open invoice is retried at once and fails again
    assert_eq!(status, 200);
    let invoice = sim.invoices(&plan.customer).await[0].clone();
    assert_eq!(invoice["attempt_count"], 2);
    assert_eq!(invoice["status"], "open");
    // WHEN the good card is entered
    let (status, _, html) = sim
        .submit(
            &card_action,
            &[
                ("card_number", "4242 4242 4242 4242"),
                ("card_expiry", "01 / 31"),
            ],
        )
        .await;
    // THEN the invoice is paid at once and the subscription is active again
    assert_eq!(status, 200);
    assert!(html.contains("Your card has been updated."));
    assert!(html.contains("Visa ending in 4242"));
    let invoice = sim
        .get(
            &format!("/v1/invoices/{}", invoice["id"].as_str().unwrap()),
            &[],
        )
        .await;
    assert_eq!(invoice.body["status"], "paid");
    assert_eq!(invoice.body["attempt_count"], 3);
    let read = sim.get(&format!("/v1/subscriptions/{sub}"), &[]).await;
    assert_eq!(read.body["status"], "active");
    let updated = &sim.events_of("customer.subscription.updated").await[0];
    assert_eq!(updated["data"]["object"]["status"], "active");
    assert_eq!(updated["data"]["previous_attributes"]["status"], "past_due");
    assert_eq!(
        sim.events_of("invoice.paid").await[0]["data"]["object"]["id"],
        invoice.body["id"]
    );
    let customer = sim
        .get(&format!("/v1/customers/{}", plan.customer), &[])
        .await;
    let pm = customer.body["invoice_settings"]["default_payment_method"].clone();
    assert_ne!(pm, Value::Null);
}
