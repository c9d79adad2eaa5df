//! The [`billing::stripe::StripeApi`] port over HTTP (reqwest with rustls), plus generic
//! form/JSON calls for the setup and doctor commands.
//!
//! Built once at cold start ([`StripeHttpClient::from_config`] or [`StripeHttpClient::builder`]).
//! Every request:
//! - carries `Authorization: Bearer <key>`, a pinned `Stripe-Version` and a `User-Agent` naming
//!   the project; every POST also carries the caller's `Idempotency-Key`;
//! - encodes its form body (or query) once, in the core's field order, so every retry re-sends
//!   byte-identical bytes under the same key;
//! - is bounded per attempt by the configured timeout and retried per the [`RetryPolicy`]
//!   (exponential backoff, full jitter, `Stripe-Should-Retry` and `Retry-After` honoured);
//! - logs one `debug` line per attempt (method, path, attempt, status, request id; never a body or
//!   the key).
//!
//! # Layout
//! - [`form`]: form/query encoding in Stripe's bracket notation, path segments.
//! - [`retry`]: the retry policy, jitter and sleeper.
//! - `answer`: the steering headers and Stripe's error object.
//! - `api`: the typed [`billing::stripe::StripeApi`] methods, built on the generic calls.

mod answer;
mod api;
pub mod form;
pub mod retry;

pub use retry::{FullJitter, Jitter, NoJitter, RetryPolicy, Sleeper, TokioSleeper};

use answer::AnswerHeaders;
use billing::config::StripeConfig;
use billing::stripe::StripeError;
use reqwest::Method;
use reqwest::header::{
    AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT,
};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// Stripe's production API.
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";
/// The bound of one HTTP attempt, by default (as `STRIPE_TIMEOUT_MS`'s default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The `User-Agent` sent by default: the project and this crate's version.
pub const DEFAULT_USER_AGENT: &str = concat!(
    "LeadMagnetAI-Billing/",
    env!("CARGO_PKG_VERSION"),
    " (billing-adapters; reqwest)"
);

const STRIPE_VERSION: HeaderName = HeaderName::from_static("stripe-version");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Why the client could not be built. Never contains the API key.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The base URL does not parse.
    #[error("the Stripe API base {url:?} is not a valid URL")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// The parser's complaint.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// The base URL is not http(s).
    #[error("the Stripe API base {url:?} is not an http(s) URL")]
    BaseUrlScheme {
        /// The URL given.
        url: String,
    },
    /// A header value (the key, the API version or the user agent) has characters HTTP refuses.
    /// The value itself is not repeated.
    #[error("the {header} header value is not valid in HTTP")]
    Header {
        /// Which header.
        header: &'static str,
        /// The refusal.
        #[source]
        source: reqwest::header::InvalidHeaderValue,
    },
    /// A zero timeout would fail every request.
    #[error("the Stripe request timeout must be above zero")]
    ZeroTimeout,
    /// reqwest could not build its client (TLS set-up).
    #[error("the HTTP client could not be built")]
    Http(#[source] reqwest::Error),
}

/// A request that could not be built, so was never sent. It reaches callers as
/// [`StripeError::InvalidRequest`], which is never retried.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// POSTs must carry an idempotency key; an empty one was given.
    #[error("a POST to Stripe needs a non-empty Idempotency-Key")]
    EmptyIdempotencyKey,
    /// The idempotency key has characters HTTP refuses.
    #[error("the Idempotency-Key is not a valid header value")]
    InvalidIdempotencyKey(#[source] reqwest::header::InvalidHeaderValue),
    /// The path and query do not make a valid URL.
    #[error("{path:?} does not make a valid Stripe URL")]
    Url {
        /// The path asked for.
        path: String,
        /// The parser's complaint.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

impl From<RequestError> for StripeError {
    fn from(e: RequestError) -> Self {
        StripeError::InvalidRequest(Box::new(e))
    }
}

/// Sets up a [`StripeHttpClient`]; every setting but the key has a default.
#[derive(Debug)]
pub struct StripeHttpClientBuilder {
    api_key: SecretString,
    base_url: String,
    api_version: String,
    timeout: Duration,
    retry: RetryPolicy,
    user_agent: String,
}

impl StripeHttpClientBuilder {
    /// The API base, e.g. the local Stripe stand-in (default [`DEFAULT_API_BASE`]).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// The pinned `Stripe-Version` (default [`billing::stripe::DEFAULT_API_VERSION`]).
    pub fn api_version(mut self, api_version: impl Into<String>) -> Self {
        self.api_version = api_version.into();
        self
    }

    /// The bound of one attempt, connection included (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The `User-Agent` (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client; call once per cold start and share it.
    pub fn build(self) -> Result<StripeHttpClient, BuildError> {
        let base_url = self.base_url.trim().trim_end_matches('/').to_string();
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| BuildError::BaseUrl {
            url: base_url.clone(),
            source: Box::new(e),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::BaseUrlScheme { url: base_url });
        }
        if self.timeout.is_zero() {
            return Err(BuildError::ZeroTimeout);
        }
        let header = |header: &'static str, value: &str| {
            HeaderValue::from_str(value).map_err(|source| BuildError::Header { header, source })
        };
        let mut authorization = header(
            "Authorization",
            &format!("Bearer {}", self.api_key.expose_secret()),
        )?;
        // Keeps the key out of the `Debug` output of the header map.
        authorization.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, authorization);
        headers.insert(STRIPE_VERSION, header("Stripe-Version", &self.api_version)?);
        headers.insert(USER_AGENT, header("User-Agent", &self.user_agent)?);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout)
            .tls_certs_only(mozilla_roots()?)
            .build()
            .map_err(BuildError::Http)?;
        Ok(StripeHttpClient {
            http,
            base_url,
            api_version: self.api_version,
            timeout: self.timeout,
            retry: self.retry,
        })
    }
}

/// The roots Stripe's certificates are checked against: Mozilla's root program, compiled in
/// (`webpki-root-certs`). Not the OS store: reading it scans and parses every file of the
/// system's certificate directory at each cold start (3–4 ms of a ~10 ms start, measured on
/// Debian), and the set the client trusts is then the same on every machine. api.stripe.com
/// chains to a public root that Mozilla includes.
fn mozilla_roots() -> Result<Vec<reqwest::Certificate>, BuildError> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| reqwest::Certificate::from_der(der).map_err(BuildError::Http))
        .collect()
}

/// Stripe over HTTP. Cheap to share by reference; holds one connection pool.
#[derive(Clone)]
pub struct StripeHttpClient {
    http: reqwest::Client,
    base_url: String,
    api_version: String,
    timeout: Duration,
    retry: RetryPolicy,
}

impl fmt::Debug for StripeHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeHttpClient")
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("api_key", &"[REDACTED]")
            .finish()
    }
}

/// One call, before it is sent.
struct Call<'a> {
    method: Method,
    path: &'a str,
    query: &'a [(String, String)],
    body: Option<String>,
    idempotency_key: Option<&'a str>,
}

impl StripeHttpClient {
    /// A builder with the defaults: production Stripe, the pinned API version, a 10 s timeout
    /// per attempt and 3 retries.
    pub fn builder(api_key: SecretString) -> StripeHttpClientBuilder {
        StripeHttpClientBuilder {
            api_key,
            base_url: DEFAULT_API_BASE.into(),
            api_version: billing::stripe::DEFAULT_API_VERSION.into(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            user_agent: DEFAULT_USER_AGENT.into(),
        }
    }

    /// The client described by the `STRIPE_*` configuration, with the key already fetched
    /// (from the environment or Secrets Manager) and the default backoff delays.
    pub fn from_config(config: &StripeConfig, api_key: SecretString) -> Result<Self, BuildError> {
        StripeHttpClient::builder(api_key)
            .base_url(&config.api_base)
            .api_version(&config.api_version)
            .timeout(config.timeout)
            .retry_policy(RetryPolicy::default().with_max_retries(config.max_retries))
            .build()
    }

    /// The API base requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The pinned `Stripe-Version`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The bound of one attempt.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// `POST path` with `form` (ordered pairs in Stripe's bracket notation, e.g.
    /// `("metadata[key]", "v")`) under `idempotency_key`, which is required and must be
    /// deterministic for the operation: retries, here and by callers, re-send the same bytes
    /// under the same key. Returns Stripe's JSON answer.
    ///
    /// ```no_run
    /// # async fn f(client: &billing_adapters::stripe_http::StripeHttpClient) -> Result<(), billing::stripe::StripeError> {
    /// let form = vec![("display_name".to_string(), "AI usage".to_string())];
    /// let _meter = client.post_form("/v1/billing/meters", &form, "setup-meter-v1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<serde_json::Value, StripeError> {
        self.post_form_as(path, form, idempotency_key).await
    }

    /// `GET path?query` (pairs encoded in order, e.g. `("expand[]", "items")`). Returns Stripe's
    /// JSON answer.
    pub async fn get_json(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<serde_json::Value, StripeError> {
        self.get_as(path, query).await
    }

    /// `DELETE path` (e.g. `/v1/webhook_endpoints/we_...`). Returns Stripe's JSON answer,
    /// usually `{"id": ..., "deleted": true}`.
    pub async fn delete(&self, path: &str) -> Result<serde_json::Value, StripeError> {
        self.execute(Call {
            method: Method::DELETE,
            path,
            query: &[],
            body: None,
            idempotency_key: None,
        })
        .await
    }

    /// [`Self::post_form`], read as `T`.
    pub(crate) async fn post_form_as<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &[(String, String)],
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        if idempotency_key.trim().is_empty() {
            return Err(RequestError::EmptyIdempotencyKey.into());
        }
        self.execute(Call {
            method: Method::POST,
            path,
            query: &[],
            body: Some(form::encode_form(form)),
            idempotency_key: Some(idempotency_key),
        })
        .await
    }

    /// [`Self::get_json`], read as `T`.
    pub(crate) async fn get_as<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<T, StripeError> {
        self.execute(Call {
            method: Method::GET,
            path,
            query,
            body: None,
            idempotency_key: None,
        })
        .await
    }

    fn url(&self, path: &str, query: &[(String, String)]) -> Result<reqwest::Url, RequestError> {
        let slash = if path.starts_with('/') { "" } else { "/" };
        let mut url = format!("{}{slash}{path}", self.base_url);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&form::encode_form(query));
        }
        reqwest::Url::parse(&url).map_err(|e| RequestError::Url {
            path: path.to_string(),
            source: Box::new(e),
        })
    }

    /// Sends `call`, retrying per the policy. The URL, headers and body are built once, before the
    /// first attempt, and re-sent unchanged.
    async fn execute<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, StripeError> {
        let url = self.url(call.path, call.query)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = call.idempotency_key {
            let value = HeaderValue::from_str(key).map_err(RequestError::InvalidIdempotencyKey)?;
            headers.insert(IDEMPOTENCY_KEY, value);
        }
        if call.body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
        }
        let mut retry: u32 = 0;
        loop {
            let mut request = self
                .http
                .request(call.method.clone(), url.clone())
                .headers(headers.clone());
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            let (result, answer, status) = attempt::<T>(request).await;
            let delay = match &result {
                Err(e) if retry < self.retry.max_retries() && e.is_retryable() => {
                    Some(self.retry.delay(retry, answer.retry_after))
                }
                _ => None,
            };
            let transport_error = match &result {
                Err(StripeError::Transport(e)) => Some(e.to_string()),
                _ => None,
            };
            tracing::debug!(
                method = %call.method,
                path = call.path,
                attempt = retry + 1,
                status = ?status,
                request_id = ?answer.request_id,
                retry_in_ms = ?delay.map(|d| d.as_millis()),
                transport_error = ?transport_error,
                "Stripe request attempt"
            );
            match delay {
                Some(delay) => {
                    self.retry.sleep(delay).await;
                    retry += 1;
                }
                None => return result,
            }
        }
    }
}

/// One attempt: the outcome, the steering headers and the status, when there was an answer.
async fn attempt<T: DeserializeOwned>(
    request: reqwest::RequestBuilder,
) -> (Result<T, StripeError>, AnswerHeaders, Option<u16>) {
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return (Err(transport(e)), AnswerHeaders::default(), None),
    };
    let status = response.status();
    let answer = AnswerHeaders::read(response.headers());
    let result = match response.bytes().await {
        Err(e) => Err(transport(e)),
        Ok(body) if status.is_success() => answer::decode(&answer, &body),
        Ok(body) => Err(answer::api_error(status.as_u16(), &answer, &body)),
    };
    (result, answer, Some(status.as_u16()))
}

fn transport(e: reqwest::Error) -> StripeError {
    StripeError::Transport(Box::new(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Result<StripeHttpClient, BuildError> {
        StripeHttpClient::builder(SecretString::from("sk_test_SUPERSECRET"))
            .base_url(base)
            .build()
    }

    #[test]
    fn the_client_trusts_mozillas_root_set_compiled_in() {
        // Every root parses (one bad DER would fail every cold start), and the set is the whole
        // program, not a handful.
        let roots = mozilla_roots().expect("every root parses");
        assert!(roots.len() > 100, "{} roots", roots.len());
        assert!(client("https://api.stripe.com").is_ok());
    }

    #[test]
    fn bad_base_urls_are_refused_at_build_time() {
        assert!(matches!(
            client("not a url"),
            Err(BuildError::BaseUrl { .. })
        ));
        assert!(matches!(
            client("ftp://stripe.example"),
            Err(BuildError::BaseUrlScheme { .. })
        ));
        let c = client("http://127.0.0.1:12111/").unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:12111");
    }

    #[test]
    fn a_key_with_bad_characters_is_refused_without_being_shown() {
        let e = StripeHttpClient::builder(SecretString::from("sk_test_SUPER\nSECRET"))
            .build()
            .unwrap_err();
        assert!(!format!("{e} {e:?}").contains("SUPER"), "{e:?}");
    }

    #[test]
    fn urls_join_the_base_path_and_encoded_query() {
        let c = client("http://localhost:1/prefix/").unwrap();
        let q = vec![("expand[]".to_string(), "items".to_string())];
        assert_eq!(
            c.url("/v1/subscriptions/sub_1", &q).unwrap().as_str(),
            "http://localhost:1/prefix/v1/subscriptions/sub_1?expand%5B%5D=items"
        );
        assert_eq!(
            c.url("v1/customers", &[]).unwrap().as_str(),
            "http://localhost:1/prefix/v1/customers"
        );
    }
}
