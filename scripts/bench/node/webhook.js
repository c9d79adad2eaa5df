// stripe-node's webhook verification + parsing on the benchmark's payload and header
// (written by `billing-bench`'s webhook-fixture): `stripe.webhooks.constructEvent`, single thread.
// Usage: node webhook.js FIXTURE.json [ITERATIONS] [RUNS]
// Prints JSON: {"ops_per_sec": median over runs, "runs": [...], "iterations": N, ...}.
'use strict';

const fs = require('fs');
const Stripe = require('stripe');

const [fixturePath, iterArg, runsArg] = process.argv.slice(2);
if (!fixturePath) {
  console.error('usage: node webhook.js FIXTURE.json [ITERATIONS] [RUNS]');
  process.exit(2);
}
const iterations = Number(iterArg || 20000);
const runs = Number(runsArg || 7);
const fixture = JSON.parse(fs.readFileSync(fixturePath, 'utf8'));
const stripe = Stripe('sk_test_bench');
// The old handler passed API Gateway's body string; a huge tolerance keeps the signed timestamp
// valid however long the run takes (the age check is one comparison either way).
const tolerance = 1e9;

function once() {
  const event = stripe.webhooks.constructEvent(fixture.payload, fixture.header, fixture.secret, tolerance);
  if (event.type !== 'customer.subscription.updated') throw new Error('wrong event ' + event.type);
  return event;
}

// Warm-up: let V8 optimise the path.
for (let i = 0; i < Math.max(1000, iterations / 4); i++) once();

const rates = [];
for (let r = 0; r < runs; r++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once();
  const ns = Number(process.hrtime.bigint() - start);
  rates.push(iterations / (ns / 1e9));
}
const sorted = [...rates].sort((a, b) => a - b);
const mid = Math.floor(sorted.length / 2);
const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
console.log(JSON.stringify({
  ops_per_sec: median,
  runs: rates,
  iterations,
  payload_bytes: Buffer.byteLength(fixture.payload),
  node: process.version,
  stripe: JSON.parse(fs.readFileSync(require.resolve('stripe').replace(/(node_modules\/stripe\/).*/, '$1package.json'), 'utf8')).version,
}));
