//! Test harness: start the stand-in, call it like a Stripe client, receive its webhooks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use stripe_sim::{Config, Server};

pub const KEY: &str = "sk_test_stripe_sim";

/// A running stand-in and a client for it.
pub struct Sim {
    pub server: Server,
    pub client: reqwest::Client,
}

/// A response, body parsed as JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_default().to_string()
    }

    /// Asserts an error response's status, type and code, and returns its `error` object.
    pub fn expect_error(&self, status: u16, kind: &str, code: Option<&str>) -> &Value {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(self.body["error"]["type"], kind, "{:#}", self.body);
        assert_eq!(self.body["error"]["code"].as_str(), code, "{:#}", self.body);
        &self.body["error"]
    }

    pub fn expect_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "{:#}", self.body);
        &self.body
    }
}

pub fn encode(form: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form {
        s.append_pair(k, v);
    }
    s.finish()
}

impl Sim {
    pub async fn start() -> Sim {
        Sim::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Sim {
        let server = stripe_sim::serve(Config { port: 0, ..config })
            .await
            .expect("the stand-in starts");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        Sim { server, client }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let response = request.send().await.expect("request reaches the stand-in");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn post_request(&self, path: &str, form: &[(&str, &str)]) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(KEY)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Stripe-Version", "2026-10-28.endive")
            .body(encode(form))
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.post_request(path, form)).await
    }

    pub async fn post_idem(&self, path: &str, key: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.post_request(path, form).header("Idempotency-Key", key))
            .await
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Resp {
        let url = if query.is_empty() {
            self.url(path)
        } else {
            format!("{}?{}", self.url(path), encode(query))
        };
        self.send(self.client.get(url).bearer_auth(KEY)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.send(self.client.delete(self.url(path)).bearer_auth(KEY))
            .await
    }

    // ---- object factories ----

    pub async fn customer(&self, email: &str) -> String {
        self.post("/v1/customers", &[("email", email)])
            .await
            .expect_ok();
        let r = self
            .get("/v1/customers", &[("email", email), ("limit", "1")])
            .await;
        r.body["data"][0]["id"].as_str().unwrap().to_string()
    }

    pub async fn product(&self) -> String {
        self.post("/v1/products", &[("name", "Lead Magnet AI")])
            .await
            .id()
    }

    pub async fn meter(&self, event_name: &str, formula: &str) -> String {
        let r = self
            .post(
                "/v1/billing/meters",
                &[
                    ("display_name", "OpenAI usage"),
                    ("event_name", event_name),
                    ("default_aggregation[formula]", formula),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    pub async fn base_price(&self, product: &str) -> String {
        let r = self
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("product", product),
                    ("unit_amount", "2900"),
                    ("recurring[interval]", "month"),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }

    pub async fn metered_price(&self, product: &str, meter: &str) -> String {
        let r = self
            .post(
                "/v1/prices",
                &[
                    ("currency", "usd"),
                    ("product", product),
                    ("billing_scheme", "tiered"),
                    ("tiers_mode", "graduated"),
                    ("tiers[0][up_to]", "1000"),
                    ("tiers[0][unit_amount]", "0"),
                    ("tiers[1][up_to]", "inf"),
                    ("tiers[1][unit_amount]", "1"),
                    ("recurring[interval]", "month"),
                    ("recurring[usage_type]", "metered"),
                    ("recurring[meter]", meter),
                ],
            )
            .await;
        r.expect_ok();
        r.id()
    }
}

/// A webhook receiver: records every request and answers 500 to the first `fail_first` ones.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Receiver {
        let received: Arc<Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
        let log = Arc::clone(&received);
        let app = axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let log = Arc::clone(&log);
                async move {
                    let mut log = log.lock().unwrap();
                    log.push((headers, body));
                    if log.len() <= fail_first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/webhook"),
            received,
        }
    }

    /// Waits until at least `n` requests arrived (or a few seconds passed) and returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(HeaderMap, Bytes)> {
        for _ in 0..200 {
            {
                let log = self.received.lock().unwrap();
                if log.len() >= n {
                    return log.clone();
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.received.lock().unwrap().clone()
    }
}
