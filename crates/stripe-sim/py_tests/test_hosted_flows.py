"""Part 2 through the official `stripe` library (16.1.0): test clocks, Checkout Sessions and the
hosted Checkout page, portal configurations and sessions, invoices, and faults under `/_sim/`."""

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest
import stripe

JAN_31 = 1_769_817_600  # 2026-01-31 00:00 UTC
FEB_28 = 1_772_236_800  # 2026-02-28 00:00 UTC
HOUR = 3_600


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_browser = urllib.request.build_opener(_NoRedirect)


def browser_post(url, fields):
    """POST a hosted page's form like a browser, without following the redirect."""
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with _browser.open(request) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, response.read().decode()
    except urllib.error.HTTPError as err:
        headers = {k.lower(): v for k, v in err.headers.items()}
        return err.code, headers, err.read().decode()


def browser_get(url):
    with _browser.open(url) as response:
        return response.status, response.read().decode()


def control(sim_url, path, body):
    request = urllib.request.Request(
        sim_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def make_plan():
    """A customer on a fresh test clock, a $29 base price and a flat 1-cent metered price."""
    clock = stripe.test_helpers.TestClock.create(frozen_time=JAN_31, name="py")
    customer = stripe.Customer.create(email="py@example.com", test_clock=clock.id)
    product = stripe.Product.create(name="Lead Magnet AI")
    event_name = f"usage_{uuid.uuid4().hex[:8]}"
    meter = stripe.billing.Meter.create(
        display_name="usage", event_name=event_name, default_aggregation={"formula": "sum"}
    )
    base = stripe.Price.create(
        currency="usd", product=product.id, unit_amount=2900, recurring={"interval": "month"}
    )
    metered = stripe.Price.create(
        currency="usd",
        product=product.id,
        unit_amount=1,
        recurring={"interval": "month", "usage_type": "metered", "meter": meter.id},
    )
    return clock, customer, base, metered, event_name


def checkout(customer, base, metered):
    return stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=[{"price": base.id, "quantity": 1}, {"price": metered.id}],
        success_url="https://app.example.com/done?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://app.example.com/billing",
        client_reference_id="tenant-1",
        subscription_data={"metadata": {"tenant": "t1"}},
    )


def test_test_clocks_round_trip():
    clock = stripe.test_helpers.TestClock.create(frozen_time=JAN_31, name="round trip")
    assert isinstance(clock, stripe.test_helpers.TestClock)
    assert clock.status == "ready" and clock.frozen_time == JAN_31
    advanced = stripe.test_helpers.TestClock.advance(clock.id, frozen_time=JAN_31 + HOUR)
    assert advanced.frozen_time == JAN_31 + HOUR
    read = stripe.test_helpers.TestClock.retrieve(clock.id)
    assert read.status == "ready"
    assert clock.id in [c.id for c in stripe.test_helpers.TestClock.list(limit=100).data]
    deleted = stripe.test_helpers.TestClock.delete(clock.id)
    assert deleted.deleted is True


def test_checkout_sessions_round_trip_and_refuse_a_metered_quantity():
    _, customer, base, metered, _ = make_plan()
    session = checkout(customer, base, metered)
    assert isinstance(session, stripe.checkout.Session)
    assert session.status == "open" and session.url.endswith(session.id)
    assert stripe.checkout.Session.retrieve(session.id).client_reference_id == "tenant-1"
    listed = stripe.checkout.Session.list(customer=customer.id, status="open")
    assert [s.id for s in listed.data] == [session.id]
    expired = stripe.checkout.Session.expire(session.id)
    assert expired.status == "expired"
    with pytest.raises(stripe.InvalidRequestError) as err:
        stripe.checkout.Session.create(
            mode="subscription",
            customer=customer.id,
            line_items=[{"price": base.id, "quantity": 1}, {"price": metered.id, "quantity": 1}],
            success_url="https://app.example.com/done",
        )
    assert err.value.param == "line_items[1][quantity]"


def test_a_checkout_paid_on_its_page_and_a_renewal_show_up_as_invoices():
    clock, customer, base, metered, event_name = make_plan()
    session = checkout(customer, base, metered)
    # the page is a real form; posting it like a browser pays and redirects
    status, html = browser_get(session.url)
    assert status == 200 and 'name="card_number"' in html
    status, headers, _ = browser_post(
        session.url, {"card_number": "4242 4242 4242 4242", "card_expiry": "12 / 34"}
    )
    assert status == 303
    assert headers["location"] == f"https://app.example.com/done?session_id={session.id}"
    done = stripe.checkout.Session.retrieve(session.id)
    assert done.status == "complete" and done.payment_status == "paid"
    subscription = stripe.Subscription.retrieve(done.subscription)
    assert subscription.metadata["tenant"] == "t1"
    # usage in the period, then the period closes and the grace hour ends
    stripe.test_helpers.TestClock.advance(clock.id, frozen_time=FEB_28 - HOUR)
    stripe.billing.MeterEvent.create(
        event_name=event_name,
        payload={"stripe_customer_id": customer.id, "value": "600"},
        timestamp=FEB_28 - 2 * HOUR,
    )
    stripe.test_helpers.TestClock.advance(clock.id, frozen_time=FEB_28 + 2 * HOUR)
    invoices = stripe.Invoice.list(customer=customer.id)
    assert all(isinstance(i, stripe.Invoice) for i in invoices.data)
    renewal, first = invoices.data
    assert first.billing_reason == "subscription_create" and first.total == 2900
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.status == "paid" and renewal.total == 3500
    assert renewal.parent.subscription_details.subscription == subscription.id
    assert renewal.period_start == JAN_31 and renewal.period_end == FEB_28
    usage = [l for l in renewal.lines.data if l.pricing.price_details.price == metered.id][0]
    assert usage.quantity == 600 and usage.amount == 600
    again = stripe.Invoice.retrieve(renewal.id)
    assert again.amount_paid == 3500
    assert [i.id for i in stripe.Invoice.list(subscription=subscription.id, status="paid").data] == [
        renewal.id,
        first.id,
    ]


def test_portal_configurations_and_sessions_round_trip():
    config = stripe.billing_portal.Configuration.create(
        business_profile={"headline": "Billing"},
        features={
            "subscription_cancel": {"enabled": True, "mode": "at_period_end"},
            "payment_method_update": {"enabled": True},
            "invoice_history": {"enabled": True},
        },
        default_return_url="https://app.example.com/account",
    )
    assert isinstance(config, stripe.billing_portal.Configuration)
    assert config.features.subscription_cancel.mode == "at_period_end"
    read = stripe.billing_portal.Configuration.retrieve(config.id)
    assert read.business_profile.headline == "Billing"
    updated = stripe.billing_portal.Configuration.modify(
        config.id, features={"subscription_cancel": {"mode": "immediately"}}
    )
    assert updated.features.subscription_cancel.mode == "immediately"
    assert config.id in [c.id for c in stripe.billing_portal.Configuration.list(limit=100).data]
    customer = stripe.Customer.create(email="portal@example.com")
    session = stripe.billing_portal.Session.create(
        customer=customer.id, configuration=config.id, return_url="https://app.example.com/account"
    )
    assert isinstance(session, stripe.billing_portal.Session)
    status, html = browser_get(session.url)
    assert status == 200 and "Billing" in html


def test_the_library_retry_recovers_from_a_500_after_the_request_took_effect(sim_url):
    # GIVEN the next customer creation fails with a 500 after it took effect
    control(
        sim_url,
        "/_sim/faults",
        {"method": "POST", "path": "/v1/customers", "fault": "500", "when": "after"},
    )
    email = f"retry-{uuid.uuid4().hex[:8]}@example.com"
    # WHEN the library creates a customer (it retries with its own Idempotency-Key)
    customer = stripe.Customer.create(email=email)
    # THEN the retry replayed the saved answer: exactly one customer exists
    assert [c.id for c in stripe.Customer.list(email=email).data] == [customer.id]
    # AND without retries a dropped connection surfaces as the library's APIConnectionError
    control(
        sim_url,
        "/_sim/faults",
        {"method": "POST", "path": "/v1/customers", "fault": "drop"},
    )
    client = stripe.StripeClient(
        stripe.api_key, base_addresses={"api": sim_url}, max_network_retries=0
    )
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(params={"email": email})
    control(sim_url, "/_sim/reset", {})
