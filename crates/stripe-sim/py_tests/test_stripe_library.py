"""The official `stripe` Python library (16.1.0, API 2026-10-28.endive) drives the stand-in:
every object type round-trips without errors, and a delivered webhook verifies with
`stripe.Webhook.construct_event`."""

import time
import uuid

import pytest
import stripe


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_meter(event_name=None, formula="sum"):
    return stripe.billing.Meter.create(
        display_name="OpenAI usage",
        event_name=event_name or unique("usage"),
        default_aggregation={"formula": formula},
        customer_mapping={"event_payload_key": "stripe_customer_id", "type": "by_id"},
        value_settings={"event_payload_key": "value"},
    )


def make_plan():
    product = stripe.Product.create(name="Lead Magnet AI")
    meter = make_meter()
    base = stripe.Price.create(
        currency="usd",
        product=product.id,
        unit_amount=2900,
        recurring={"interval": "month"},
    )
    metered = stripe.Price.create(
        currency="usd",
        product=product.id,
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 1000, "unit_amount": 0}, {"up_to": "inf", "unit_amount": 1}],
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
    )
    return product, meter, base, metered


def test_library_is_pinned_to_the_version_the_stand_in_renders():
    assert stripe.VERSION == "16.1.0"
    assert stripe.api_version == "2026-10-28.endive"


def test_customers_round_trip():
    # GIVEN a customer created as the sign-up trigger would
    email = f"{unique('ann')}@example.com"
    created = stripe.Customer.create(email=email, name="Ann", metadata={"customer_id": "c1"})
    assert isinstance(created, stripe.Customer)
    assert created.id.startswith("cus_")
    assert created.livemode is False
    # WHEN it is read, updated and listed
    read = stripe.Customer.retrieve(created.id)
    updated = stripe.Customer.modify(created.id, name="Ann Lee", metadata={"customer_id": ""})
    listed = stripe.Customer.list(email=email, limit=1)
    # THEN the library sees Stripe's objects
    assert read.email == email
    assert read.metadata["customer_id"] == "c1"
    assert updated.name == "Ann Lee"
    assert "customer_id" not in updated.metadata
    assert [c.id for c in listed.data] == [created.id]
    assert listed.has_more is False


def test_products_and_prices_round_trip():
    product, meter, base, metered = make_plan()
    assert isinstance(product, stripe.Product) and product.id.startswith("prod_")
    assert isinstance(base, stripe.Price) and base.id.startswith("price_")
    assert base.unit_amount == 2900
    assert base.recurring.usage_type == "licensed"
    assert metered.recurring.meter == meter.id
    assert stripe.Product.retrieve(product.id).name == "Lead Magnet AI"
    assert stripe.Product.modify(product.id, metadata={"k": "v"}).metadata["k"] == "v"
    assert product.id in [p.id for p in stripe.Product.list(limit=100).data]
    # tiers come back when expanded, `inf` as None
    tiers = stripe.Price.retrieve(metered.id, expand=["tiers"]).tiers
    assert [(t.up_to, t.unit_amount) for t in tiers] == [(1000, 0), (None, 1)]
    # lookup keys
    key = unique("base")
    keyed = stripe.Price.create(
        currency="usd", unit_amount=2900, recurring={"interval": "month"},
        product=product.id, lookup_key=key,
    )
    assert [p.id for p in stripe.Price.list(lookup_keys=[key]).data] == [keyed.id]
    assert stripe.Price.modify(keyed.id, active=False).active is False
    assert keyed.id not in [p.id for p in stripe.Price.list(active=True, product=product.id).data]
    # product_data
    inline = stripe.Price.create(currency="usd", unit_amount=500, product_data={"name": "Add-on"})
    assert stripe.Product.retrieve(inline.product).name == "Add-on"


def test_metered_price_without_meter_is_refused():
    product = stripe.Product.create(name="p")
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.Price.create(
            currency="usd", product=product.id, unit_amount=1,
            recurring={"interval": "month", "usage_type": "metered"},
        )
    assert err.value.param == "recurring[meter]"


def test_meters_and_meter_events_round_trip():
    meter = make_meter(formula="sum")
    assert isinstance(meter, stripe.billing.Meter)
    assert meter.id.startswith("mtr_")
    assert stripe.billing.Meter.retrieve(meter.id).event_name == meter.event_name
    assert meter.id in [m.id for m in stripe.billing.Meter.list(limit=100).data]
    assert stripe.billing.Meter.modify(meter.id, display_name="Renamed").display_name == "Renamed"
    customer = stripe.Customer.create(email="meter@example.com")
    start = (int(time.time()) // 3600 - 1) * 3600
    # WHEN usage is reported
    event = stripe.billing.MeterEvent.create(
        event_name=meter.event_name,
        payload={"stripe_customer_id": customer.id, "value": "25"},
        identifier="evt-ident-1" + meter.id,
        timestamp=start + 60,
    )
    stripe.billing.MeterEvent.create(
        event_name=meter.event_name,
        payload={"stripe_customer_id": customer.id, "value": "5"},
        timestamp=start + 120,
    )
    assert isinstance(event, stripe.billing.MeterEvent)
    assert event.payload["value"] == "25"
    assert event.timestamp == start + 60
    # THEN the summary aggregates it
    summaries = stripe.billing.Meter.list_event_summaries(
        meter.id, customer=customer.id, start_time=start, end_time=start + 3600
    )
    assert [s.aggregated_value for s in summaries.data] == [30]
    assert summaries.data[0].object == "billing.meter_event_summary"
    # AND a duplicate identifier is refused (and not retried)
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.billing.MeterEvent.create(
            event_name=meter.event_name,
            payload={"stripe_customer_id": customer.id, "value": "25"},
            identifier="evt-ident-1" + meter.id,
        )
    assert str(err.value.user_message).startswith(
        "An event already exists with identifier evt-ident-1" + meter.id
    )
    # AND a fractional value is refused
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.billing.MeterEvent.create(
            event_name=meter.event_name,
            payload={"stripe_customer_id": customer.id, "value": "2.5"},
        )
    assert err.value.param == "payload[value]"
    # AND meters deactivate and reactivate
    assert stripe.billing.Meter.deactivate(meter.id).status == "inactive"
    assert stripe.billing.Meter.reactivate(meter.id).status == "active"


def test_subscriptions_round_trip():
    _, _, base, metered = make_plan()
    customer = stripe.Customer.create(email="sub@example.com")
    sub = stripe.Subscription.create(
        customer=customer.id,
        items=[{"price": base.id, "quantity": 1}, {"price": metered.id}],
        metadata={"tenant": "t1"},
    )
    assert isinstance(sub, stripe.Subscription)
    assert sub.status == "active"
    item = sub["items"].data[0]
    assert item.current_period_end > item.current_period_start
    assert "current_period_end" not in sub
    read = stripe.Subscription.retrieve(sub.id)
    assert read["items"].data[1].price.id == metered.id
    updated = stripe.Subscription.modify(sub.id, cancel_at_period_end=True)
    assert updated.cancel_at_period_end is True
    assert updated.cancel_at == item.current_period_end
    assert [s.id for s in stripe.Subscription.list(customer=customer.id).data] == [sub.id]
    canceled = stripe.Subscription.cancel(sub.id)
    assert canceled.status == "canceled"
    assert stripe.Subscription.list(customer=customer.id).data == []
    assert [s.id for s in stripe.Subscription.list(customer=customer.id, status="canceled").data] == [sub.id]
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.Subscription.create(
            customer=customer.id, items=[{"price": metered.id, "quantity": 2}]
        )
    assert err.value.param == "items[0][quantity]"


def test_a_delivered_webhook_verifies_with_construct_event(receiver):
    # GIVEN an endpoint subscribed to customer.created
    endpoint = stripe.WebhookEndpoint.create(
        url=receiver.url,
        enabled_events=["customer.created"],
        api_version="2026-10-28.endive",
    )
    assert isinstance(endpoint, stripe.WebhookEndpoint)
    assert endpoint.secret.startswith("whsec_")
    # WHEN a customer is created
    customer = stripe.Customer.create(email="hook@example.com")
    # THEN a delivery arrives that the library verifies and parses
    requests = receiver.wait_for(1)
    assert requests, "no webhook delivered"
    headers, body = requests[0]
    assert headers["content-type"] == "application/json; charset=utf-8"
    event = stripe.Webhook.construct_event(
        body.decode("utf-8"), headers["stripe-signature"], endpoint.secret
    )
    assert event.type == "customer.created"
    assert event.data.object.id == customer.id
    # AND a wrong secret is rejected by the library
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["stripe-signature"], "whsec_wrong")
    # AND the endpoint reads, lists, updates and deletes without its secret
    read = stripe.WebhookEndpoint.retrieve(endpoint.id)
    assert "secret" not in read
    assert endpoint.id in [e.id for e in stripe.WebhookEndpoint.list().data]
    updated = stripe.WebhookEndpoint.modify(endpoint.id, enabled_events=["*"], disabled=True)
    assert updated.status == "disabled"
    deleted = stripe.WebhookEndpoint.delete(endpoint.id)
    assert deleted.deleted is True


def test_events_list_and_retrieve():
    customer = stripe.Customer.create(email="events@example.com")
    events = stripe.Event.list(type="customer.created", limit=5)
    assert isinstance(events.data[0], stripe.Event)
    latest = events.data[0]
    assert latest.data.object.id == customer.id
    again = stripe.Event.retrieve(latest.id)
    assert again.id == latest.id and again.type == "customer.created"
    assert stripe.Event.list(types=["customer.created", "customer.updated"], limit=1).data


def test_errors_map_to_the_librarys_exceptions(sim_url):
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.Customer.retrieve("cus_nope")
    assert err.value.http_status == 404
    assert err.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.Customer.create(emial="x@example.com")
    assert err.value.code == "parameter_unknown"
    assert err.value.param == "emial"
    with pytest.raises(stripe.AuthenticationError):
        stripe.Customer.list(api_key="sk_live_notatestkey123")


def test_idempotency_keys_replay_and_refuse_other_parameters():
    key = unique("signup")
    first = stripe.Customer.create(email="idem@example.com", idempotency_key=key)
    second = stripe.Customer.create(email="idem@example.com", idempotency_key=key)
    assert first.id == second.id
    with pytest.raises(stripe.IdempotencyError):
        stripe.Customer.create(email="other@example.com", idempotency_key=key)
