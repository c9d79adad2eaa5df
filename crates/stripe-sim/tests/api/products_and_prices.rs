//! Products and prices over HTTP.

use serde_json::{Value, json};

use crate::support::{self, Sim};

#[tokio::test]
async fn products_are_created_read_updated_and_listed() {
    // GIVEN a product
    let sim = Sim::start().await;
    let created = sim
        .post(
            "/v1/products",
            &[("name", "Lead Magnet AI"), ("metadata[tier]", "pro")],
        )
        .await;
    let id = created.id();
    assert!(id.starts_with("prod_"));
    assert_eq!(created.body["object"], "product");
    assert_eq!(created.body["active"], true);
    // WHEN it is read, updated and listed
    assert_eq!(
        sim.get(&format!("/v1/products/{id}"), &[]).await.body,
        created.body
    );
    let updated = sim
        .post(&format!("/v1/products/{id}"), &[("active", "false")])
        .await;
    assert_eq!(updated.expect_ok()["active"], false);
    let inactive = sim.get("/v1/products", &[("active", "false")]).await;
    // THEN each step shows Stripe's shape
    assert_eq!(inactive.body["data"][0]["id"], id.as_str());
    assert_eq!(
        sim.get("/v1/products", &[("active", "true")]).await.body["data"],
        json!([])
    );
    // AND a name is required, a custom id is honoured and must be unique
    sim.post("/v1/products", &[]).await.expect_error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
    );
    let custom = sim
        .post("/v1/products", &[("name", "Base"), ("id", "prod_base")])
        .await;
    assert_eq!(custom.id(), "prod_base");
    sim.post("/v1/products", &[("name", "Base"), ("id", "prod_base")])
        .await
        .expect_error(
            400,
            "invalid_request_error",
            Some("resource_already_exists"),
        );
    sim.get("/v1/products/prod_nope", &[]).await.expect_error(
        404,
        "invalid_request_error",
        Some("resource_missing"),
    );
}

#[tokio::test]
async fn a_licensed_monthly_price_renders_as_stripe_does() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    // WHEN a $29/month price is created
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "USD"),
                ("product", &product),
                ("unit_amount", "2900"),
                ("recurring[interval]", "month"),
                ("lookup_key", "base_monthly"),
                ("metadata[plan]", "base"),
                ("nickname", "Base"),
            ],
        )
        .await;
    // THEN it is a recurring per-unit licensed price in integer cents
    let body = r.expect_ok();
    assert!(r.id().starts_with("price_"));
    assert_eq!(body["object"], "price");
    assert_eq!(body["type"], "recurring");
    assert_eq!(body["currency"], "usd");
    assert_eq!(body["billing_scheme"], "per_unit");
    assert_eq!(body["unit_amount"], 2900);
    assert_eq!(body["unit_amount_decimal"], "2900");
    assert_eq!(
        body["recurring"],
        json!({"interval": "month", "interval_count": 1, "meter": null, "trial_period_days": null, "usage_type": "licensed"})
    );
    assert_eq!(body["lookup_key"], "base_monthly");
    assert_eq!(body["product"], product.as_str());
    assert!(body.get("tiers").is_none());
    // AND it reads back, with its product expandable
    let read = sim
        .get(
            &format!("/v1/prices/{}", r.id()),
            &[("expand[]", "product")],
        )
        .await;
    assert_eq!(read.body["product"]["id"], product.as_str());
    assert_eq!(read.body["product"]["object"], "product");
}

#[tokio::test]
async fn a_metered_price_needs_a_meter_since_basil() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    // WHEN a metered price has no meter
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product", &product),
                ("unit_amount", "1"),
                ("recurring[interval]", "month"),
                ("recurring[usage_type]", "metered"),
            ],
        )
        .await;
    // THEN it is refused naming recurring[meter]
    let error = r.expect_error(400, "invalid_request_error", Some("parameter_missing"));
    assert_eq!(error["param"], "recurring[meter]");
    // AND an unknown meter is a missing resource
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product", &product),
                ("unit_amount", "1"),
                ("recurring[interval]", "month"),
                ("recurring[usage_type]", "metered"),
                ("recurring[meter]", "mtr_nope"),
            ],
        )
        .await;
    r.expect_error(400, "invalid_request_error", Some("resource_missing"));
    // AND a flat per-unit metered price on a meter works, with decimal amounts
    let meter = sim.meter("tokens", "sum").await;
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product", &product),
                ("unit_amount_decimal", "0.5"),
                ("recurring[interval]", "month"),
                ("recurring[usage_type]", "metered"),
                ("recurring[meter]", &meter),
            ],
        )
        .await;
    let body = r.expect_ok();
    assert_eq!(body["recurring"]["usage_type"], "metered");
    assert_eq!(body["recurring"]["meter"], meter.as_str());
    assert_eq!(body["unit_amount"], Value::Null);
    assert_eq!(body["unit_amount_decimal"], "0.5");
}

#[tokio::test]
async fn a_graduated_tiered_metered_price_shows_its_tiers_when_expanded() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    let meter = sim.meter("usage_cents", "sum").await;
    // WHEN the $10-allowance price is created (first 1000 units free, then 1 cent)
    let id = sim.metered_price(&product, &meter).await;
    // THEN it is tiered and graduated, tiers only on request
    let plain = sim.get(&format!("/v1/prices/{id}"), &[]).await;
    assert_eq!(plain.body["billing_scheme"], "tiered");
    assert_eq!(plain.body["tiers_mode"], "graduated");
    assert_eq!(plain.body["unit_amount"], Value::Null);
    assert!(plain.body.get("tiers").is_none());
    let expanded = sim
        .get(&format!("/v1/prices/{id}"), &[("expand[]", "tiers")])
        .await;
    assert_eq!(
        expanded.body["tiers"],
        json!([
            {"flat_amount": null, "flat_amount_decimal": null, "unit_amount": 0, "unit_amount_decimal": "0", "up_to": 1000},
            {"flat_amount": null, "flat_amount_decimal": null, "unit_amount": 1, "unit_amount_decimal": "1", "up_to": null}
        ])
    );
}

#[tokio::test]
async fn invalid_price_parameters_are_refused() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    let meter = sim.meter("m", "sum").await;
    let base = [
        ("currency", "usd"),
        ("product", product.as_str()),
        ("recurring[interval]", "month"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form: Vec<(&str, &str)> = base.to_vec();
        form.extend_from_slice(extra);
        form
    };
    // non-integer amount
    let r = sim
        .post("/v1/prices", &with(&[("unit_amount", "12.5")]))
        .await;
    assert_eq!(
        r.expect_error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer")
        )["param"],
        "unit_amount"
    );
    // both amounts
    sim.post(
        "/v1/prices",
        &with(&[("unit_amount", "1"), ("unit_amount_decimal", "1")]),
    )
    .await
    .expect_error(400, "invalid_request_error", Some("parameters_exclusive"));
    // no amount
    sim.post("/v1/prices", &with(&[])).await.expect_error(
        400,
        "invalid_request_error",
        Some("parameter_missing"),
    );
    // bad enum
    let r = sim
        .post(
            "/v1/prices",
            &with(&[("unit_amount", "1"), ("billing_scheme", "bulk")]),
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "billing_scheme"
    );
    // tiers whose last tier is not inf
    let mut tiered = with(&[
        ("billing_scheme", "tiered"),
        ("tiers_mode", "graduated"),
        ("tiers[0][up_to]", "1000"),
        ("tiers[0][unit_amount]", "0"),
        ("recurring[usage_type]", "metered"),
    ]);
    tiered.push(("recurring[meter]", meter.as_str()));
    let r = sim.post("/v1/prices", &tiered).await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "tiers[0][up_to]"
    );
    // tiered without tiers_mode
    let r = sim
        .post(
            "/v1/prices",
            &with(&[
                ("billing_scheme", "tiered"),
                ("tiers[0][up_to]", "inf"),
                ("tiers[0][unit_amount]", "1"),
            ]),
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_missing"))["param"],
        "tiers_mode"
    );
    // missing currency, unknown product, unknown nested parameter
    sim.post("/v1/prices", &[("product", &product), ("unit_amount", "1")])
        .await
        .expect_error(400, "invalid_request_error", Some("parameter_missing"));
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("product", "prod_nope"),
                ("unit_amount", "1"),
            ],
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("resource_missing"))["param"],
        "product"
    );
    let r = sim
        .post(
            "/v1/prices",
            &with(&[("unit_amount", "1"), ("recurring[aggregate_usage]", "sum")]),
        )
        .await;
    assert_eq!(
        r.expect_error(400, "invalid_request_error", Some("parameter_unknown"))["param"],
        "recurring[aggregate_usage]"
    );
}

#[tokio::test]
async fn lookup_keys_are_unique_transferable_and_listable() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    let price = |key: &'static str, transfer: bool| {
        let product = product.clone();
        let sim = &sim;
        async move {
            let mut form = vec![
                ("currency", "usd"),
                ("product", product.as_str()),
                ("unit_amount", "2900"),
                ("recurring[interval]", "month"),
                ("lookup_key", key),
            ];
            if transfer {
                form.push(("transfer_lookup_key", "true"));
            }
            sim.post("/v1/prices", &form).await
        }
    };
    // GIVEN a price holding the lookup key
    let first = price("base", false).await.id();
    // WHEN another price asks for it without transfer
    let r = price("base", false).await;
    // THEN it is refused
    assert_eq!(
        r.expect_error(400, "invalid_request_error", None)["param"],
        "lookup_key"
    );
    // AND with transfer it moves
    let second = price("base", true).await.id();
    let old = sim.get(&format!("/v1/prices/{first}"), &[]).await;
    assert_eq!(old.body["lookup_key"], Value::Null);
    let found = sim.get("/v1/prices", &[("lookup_keys[]", "base")]).await;
    assert_eq!(found.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(found.body["data"][0]["id"], second.as_str());
    // AND the Python library's indexed form works too
    let found = sim.get("/v1/prices", &[("lookup_keys[0]", "base")]).await;
    assert_eq!(found.body["data"][0]["id"], second.as_str());
}

#[tokio::test]
async fn prices_update_and_list_by_active_and_product() {
    let sim = Sim::start().await;
    let product = sim.product().await;
    let other = sim.product().await;
    let a = sim.base_price(&product).await;
    let b = sim.base_price(&other).await;
    // WHEN one is deactivated, relabelled and given metadata
    let r = sim
        .post(
            &format!("/v1/prices/{a}"),
            &[
                ("active", "false"),
                ("metadata[k]", "v"),
                ("lookup_key", "old"),
            ],
        )
        .await;
    let body = r.expect_ok();
    assert_eq!(body["active"], false);
    assert_eq!(body["metadata"]["k"], "v");
    assert_eq!(body["lookup_key"], "old");
    // THEN filters see it
    let active = sim.get("/v1/prices", &[("active", "true")]).await;
    assert_eq!(active.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(active.body["data"][0]["id"], b.as_str());
    let by_product = sim.get("/v1/prices", &[("product", &product)]).await;
    assert_eq!(by_product.body["data"][0]["id"], a.as_str());
    // AND a price.updated event records the change
    let events = sim.get("/v1/events", &[("type", "price.updated")]).await;
    assert_eq!(
        events.body["data"][0]["data"]["previous_attributes"]["active"],
        true
    );
    // AND list entries can expand their product
    let expanded = sim
        .get(
            "/v1/prices",
            &[("expand[]", "data.product"), ("limit", "1")],
        )
        .await;
    assert_eq!(expanded.body["data"][0]["product"]["object"], "product");
}

#[tokio::test]
async fn product_data_creates_the_product_with_the_price() {
    let sim = Sim::start().await;
    let r = sim
        .post(
            "/v1/prices",
            &[
                ("currency", "usd"),
                ("unit_amount", "500"),
                ("product_data[name]", "Add-on"),
            ],
        )
        .await;
    let body = r.expect_ok();
    assert_eq!(body["type"], "one_time");
    let product = body["product"].as_str().unwrap();
    let read = sim.get(&format!("/v1/products/{product}"), &[]).await;
    assert_eq!(read.expect_ok()["name"], "Add-on");
}

#[tokio::test]
async fn an_integration_pinned_before_basil_may_still_create_a_legacy_metered_price() {
    // GIVEN a request pinned to 2024-04-10
    let sim = Sim::start().await;
    let product = sim.product().await;
    let request = sim
        .client
        .post(sim.url("/v1/prices"))
        .bearer_auth(support::KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Stripe-Version", "2024-04-10")
        .body(support::encode(&[
            ("currency", "usd"),
            ("product", &product),
            ("unit_amount", "1"),
            ("recurring[interval]", "month"),
            ("recurring[usage_type]", "metered"),
        ]));
    // WHEN it creates a metered price without a meter
    let r = sim.send(request).await;
    // THEN Stripe's old behaviour applies: a legacy metered price, with no meter
    let body = r.expect_ok();
    assert_eq!(body["recurring"]["usage_type"], "metered");
    assert_eq!(body["recurring"]["meter"], Value::Null);
}
