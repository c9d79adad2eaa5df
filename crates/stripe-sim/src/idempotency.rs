//! Stripe's idempotency layer for `POST` requests: the first response to an `Idempotency-Key` is
//! saved (status, headers, body) and replayed to retries with the same method, path and body, with
//! `Idempotent-Replayed: true`; other parameters under the same key get `idempotency_error`; a
//! retry while the first is still running gets 409. Keys are kept 24 hours. Responses to requests
//! that failed validation are not saved, so a corrected retry with the same key goes through.

use std::collections::{HashMap, VecDeque};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::{ApiError, NotSaved};
use crate::http::RequestContext;
use crate::state::App;

/// How long a key is remembered.
pub const KEY_TTL_SECS: i64 = 24 * 60 * 60;

/// Stripe's limit on a key's length.
pub const MAX_KEY_LEN: usize = 255;

/// A response kept for replay.
#[derive(Debug, Clone)]
pub struct SavedResponse {
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    request_id: String,
}

#[derive(Debug)]
struct Entry {
    fingerprint: (Method, String, Bytes),
    created: i64,
    response: Option<SavedResponse>,
}

/// What to do with an incoming request that carries a key.
#[derive(Debug)]
pub enum Begin {
    /// First use: run it (the key is now marked in flight).
    Run,
    /// Seen before with the same parameters: send this again.
    Replay(SavedResponse),
    /// Seen before with other parameters.
    Mismatch,
    /// The first request with this key has not finished.
    InFlight,
}

/// Keys and their saved responses.
#[derive(Debug, Default)]
pub struct IdempotencyStore {
    entries: HashMap<String, Entry>,
    by_age: VecDeque<(i64, String)>,
}

impl IdempotencyStore {
    /// Looks a key up, forgetting keys older than 24 hours first.
    pub fn begin(&mut self, key: &str, fingerprint: (Method, String, Bytes), now: i64) -> Begin {
        while let Some((created, old)) = self.by_age.front() {
            if now - created < KEY_TTL_SECS {
                break;
            }
            if self.entries.get(old).is_some_and(|e| e.created == *created) {
                self.entries.remove(old);
            }
            self.by_age.pop_front();
        }
        match self.entries.get(key) {
            Some(entry) if entry.fingerprint != fingerprint => Begin::Mismatch,
            Some(Entry {
                response: Some(saved),
                ..
            }) => Begin::Replay(saved.clone()),
            Some(_) => Begin::InFlight,
            None => {
                self.entries.insert(
                    key.to_string(),
                    Entry {
                        fingerprint,
                        created: now,
                        response: None,
                    },
                );
                self.by_age.push_back((now, key.to_string()));
                Begin::Run
            }
        }
    }

    /// Saves the response for a key that was run, or frees the key when `None`.
    pub fn finish(&mut self, key: &str, response: Option<SavedResponse>) {
        match response {
            Some(saved) => {
                if let Some(entry) = self.entries.get_mut(key) {
                    entry.response = Some(saved);
                }
            }
            None => {
                if self
                    .entries
                    .get(key)
                    .is_some_and(|entry| entry.response.is_none())
                {
                    self.entries.remove(key);
                }
            }
        }
    }
}

/// Frees an in-flight key if the request is dropped before it finishes (client gone).
struct InFlightGuard {
    app: App,
    key: Option<String>,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.app.lock().idempotency.finish(&key, None);
        }
    }
}

/// Middleware applying the idempotency layer to `POST` requests with an `Idempotency-Key`.
pub async fn layer(State(app): State<App>, request: Request, next: Next) -> Response {
    let key = request
        .extensions()
        .get::<RequestContext>()
        .and_then(|ctx| ctx.idempotency_key.clone());
    let (Some(key), true) = (key, request.method() == Method::POST) else {
        return next.run(request).await;
    };
    if key.len() > MAX_KEY_LEN {
        return ApiError::Refused {
            message: format!(
                "Invalid Idempotency-Key: keys can be at most {MAX_KEY_LEN} characters long."
            ),
            param: None,
            code: None,
        }
        .into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::Refused {
            message: "The request body could not be read.".into(),
            param: None,
            code: None,
        }
        .into_response();
    };
    let fingerprint = (parts.method.clone(), parts.uri.to_string(), body.clone());
    let begin = {
        let mut state = app.lock();
        let now = state.now();
        state.idempotency.begin(&key, fingerprint, now)
    };
    match begin {
        Begin::Run => {}
        Begin::Replay(saved) => return replay(saved),
        Begin::Mismatch => return ApiError::IdempotencyMismatch(key).into_response(),
        Begin::InFlight => return ApiError::IdempotencyKeyInUse(key).into_response(),
    }
    let mut guard = InFlightGuard {
        app: app.clone(),
        key: Some(key.clone()),
    };
    let request_id = parts
        .extensions
        .get::<RequestContext>()
        .map(|ctx| ctx.request_id.clone())
        .unwrap_or_default();
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let not_saved = response.extensions().get::<NotSaved>().is_some();
    let (parts, body) = response.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let saved = (!not_saved).then(|| SavedResponse {
        status: parts.status,
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| *name != "request-id")
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect(),
        body: body.clone(),
        request_id,
    });
    guard.key = None;
    app.lock().idempotency.finish(&key, saved);
    Response::from_parts(parts, Body::from(body))
}

fn replay(saved: SavedResponse) -> Response {
    let mut response = Response::new(Body::from(saved.body));
    *response.status_mut() = saved.status;
    let headers = response.headers_mut();
    for (name, value) in saved.headers {
        headers.insert(name, value);
    }
    headers.insert("Idempotent-Replayed", HeaderValue::from_static("true"));
    if let Ok(original) = HeaderValue::from_str(&saved.request_id) {
        headers.insert("Original-Request", original);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(body: &'static str) -> (Method, String, Bytes) {
        (
            Method::POST,
            "/v1/customers".into(),
            Bytes::from_static(body.as_bytes()),
        )
    }

    fn saved() -> SavedResponse {
        SavedResponse {
            status: StatusCode::OK,
            headers: Vec::new(),
            body: Bytes::from_static(b"{}"),
            request_id: "req_1".into(),
        }
    }

    #[test]
    fn a_key_runs_once_then_replays_same_parameters_and_refuses_others() {
        // GIVEN a store with a key that ran and was saved
        let mut store = IdempotencyStore::default();
        assert!(matches!(store.begin("k", fp("a=1"), 0), Begin::Run));
        assert!(matches!(store.begin("k", fp("a=1"), 1), Begin::InFlight));
        store.finish("k", Some(saved()));
        // THEN the same request replays, another is a mismatch
        assert!(matches!(store.begin("k", fp("a=1"), 2), Begin::Replay(_)));
        assert!(matches!(store.begin("k", fp("a=2"), 2), Begin::Mismatch));
    }

    #[test]
    fn an_unsaved_key_is_free_again() {
        let mut store = IdempotencyStore::default();
        assert!(matches!(store.begin("k", fp("a=1"), 0), Begin::Run));
        store.finish("k", None);
        assert!(matches!(store.begin("k", fp("a=2"), 0), Begin::Run));
    }

    #[test]
    fn keys_are_forgotten_after_24_hours() {
        let mut store = IdempotencyStore::default();
        assert!(matches!(store.begin("k", fp("a=1"), 0), Begin::Run));
        store.finish("k", Some(saved()));
        assert!(matches!(
            store.begin("k", fp("a=2"), KEY_TTL_SECS - 1),
            Begin::Mismatch
        ));
        assert!(matches!(
            store.begin("k", fp("a=2"), KEY_TTL_SECS),
            Begin::Run
        ));
    }
}
