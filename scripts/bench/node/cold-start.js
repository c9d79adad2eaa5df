// The old Node.js system's cold start, as a Lambda handler process under the benchmark's Runtime
// API emulator (`billing-bench`'s cold-start harness): require stripe@23 and the AWS SDK v3
// clients, build the clients, read the Stripe key and the webhook secret from Secrets Manager
// (moto, via AWS_ENDPOINT_URL), then take the first invocation (a signed webhook delivery through
// API Gateway), verify it with stripe.webhooks.constructEvent and answer 200.
'use strict';

const http = require('http');
const Stripe = require('stripe');
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { DynamoDBDocumentClient } = require('@aws-sdk/lib-dynamodb');
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');

const endpoint = process.env.AWS_ENDPOINT_URL;
const region = process.env.AWS_REGION;
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({ region, endpoint }));
const secrets = new SecretsManagerClient({ region, endpoint });

async function secretJson(name) {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: name }));
  return JSON.parse(out.SecretString);
}

const ready = (async () => {
  const [key, webhook] = await Promise.all([
    secretJson(process.env.STRIPE_SECRET_NAME),
    secretJson(process.env.STRIPE_WEBHOOK_SECRET_NAME),
  ]);
  const stripe = Stripe(key.STRIPE_SECRET_KEY);
  return { stripe, webhookSecret: webhook.STRIPE_WEBHOOK_SECRET, dynamo };
})();

async function handler(event) {
  const { stripe, webhookSecret } = await ready;
  const signature = event.headers['stripe-signature'];
  const received = stripe.webhooks.constructEvent(event.body, signature, webhookSecret);
  return { statusCode: 200, body: JSON.stringify({ received: true, type: received.type }) };
}

// A minimal runtime client: GET next, run the handler, POST the response (or the error).
const api = process.env.AWS_LAMBDA_RUNTIME_API;
const [host, port] = api.split(':');

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

(async () => {
  for (;;) {
    const next = await request('GET', '/2018-06-01/runtime/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    try {
      const result = await handler(JSON.parse(next.body));
      await request('POST', `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(result));
    } catch (e) {
      await request('POST', `/2018-06-01/runtime/invocation/${id}/error`, JSON.stringify({ errorMessage: String(e), errorType: 'Error' }));
    }
  }
})();
