"""Set-up and checks for scripts/smoke-lambda, with boto3 against moto (never real AWS).

  smoke_setup.py prepare ENDPOINT PREFIX SECRET_NAME STRIPE_KEY
      creates the customers table (key and GSI as crates/billing-adapters creates it) and the
      Stripe key secret in the JSON form {"STRIPE_SECRET_KEY": ...}
  smoke_setup.py event FIXTURE OUT CUSTOMER_ID
      writes an API Gateway v2 event from FIXTURE with the JWT claims of CUSTOMER_ID
  smoke_setup.py customer ENDPOINT TABLE CUSTOMER_ID
      prints the stored customer item as JSON (plain values)
  smoke_setup.py prices STRIPE_BASE KEY
      creates a meter, the $29/month price and the metered price in the Stripe stand-in and
      prints their ids: "BASE METERED"
  smoke_setup.py check ANSWER_FILE KIND [ARGS...]
      checks a function's answer (KIND: checkout BASE_URL, subscription) and prints its body
"""
import json
import sys

import urllib.parse
import urllib.request

import boto3


def client(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="smoke",
        aws_secret_access_key="smoke",
    )


def prepare(endpoint, prefix, secret_name, stripe_key):
    ddb = client("dynamodb", endpoint)
    ddb.create_table(
        TableName=f"{prefix}-customers",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "customer_id", "AttributeType": "S"},
            {"AttributeName": "stripe_customer_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "customer_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi_stripe_customer_id",
                "KeySchema": [{"AttributeName": "stripe_customer_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client("secretsmanager", endpoint).create_secret(
        Name=secret_name, SecretString=json.dumps({"STRIPE_SECRET_KEY": stripe_key})
    )


def event(fixture, out, customer_id):
    with open(fixture) as f:
        value = json.load(f)
    claims = value["requestContext"]["authorizer"]["jwt"]["claims"]
    for key in [k for k, v in claims.items() if v == "replaced-by-the-test"]:
        del claims[key]
    claims["sub"] = f"sub-{customer_id}"
    claims["custom:customer_id"] = customer_id
    claims["email"] = f"{customer_id}@example.com"
    with open(out, "w") as f:
        json.dump(value, f)


def customer(endpoint, table, customer_id):
    item = client("dynamodb", endpoint).get_item(
        TableName=table, Key={"customer_id": {"S": customer_id}}, ConsistentRead=True
    ).get("Item", {})
    print(json.dumps({k: list(v.values())[0] for k, v in item.items()}))


def stripe_post(base, key, path, form):
    request = urllib.request.Request(
        base + path,
        data=urllib.parse.urlencode(form).encode(),
        headers={"Authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def prices(base, key):
    meter = stripe_post(base, key, "/v1/billing/meters", {
        "display_name": "OpenAI usage", "event_name": "leadmagnet_ai_usage",
        "default_aggregation[formula]": "sum"})
    licensed = stripe_post(base, key, "/v1/prices", {
        "currency": "usd", "unit_amount": "2900", "recurring[interval]": "month",
        "product_data[name]": "Lead Magnet AI Pro"})
    metered = stripe_post(base, key, "/v1/prices", {
        "currency": "usd", "unit_amount": "1", "recurring[interval]": "month",
        "recurring[usage_type]": "metered", "recurring[meter]": meter["id"],
        "product_data[name]": "Lead Magnet AI usage"})
    print(licensed["id"], metered["id"])


def check(answer_file, kind, *args):
    with open(answer_file) as f:
        answer = json.load(f)
    assert answer.get("statusCode") == 200, f"status {answer.get('statusCode')}: {answer}"
    body = json.loads(answer["body"])
    if kind == "checkout":
        (stripe_base,) = args
        assert body["id"].startswith("cs_"), body
        assert body["url"].startswith(stripe_base), body
    elif kind == "subscription":
        assert body["has_subscription"] is False and body["status"] == "none", body
        assert body["plan"]["base_price_usd"] == "29.00", body
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(json.dumps(body))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    commands = {"prepare": prepare, "event": event, "customer": customer, "prices": prices,
                "check": check}
    commands[command](*args)
