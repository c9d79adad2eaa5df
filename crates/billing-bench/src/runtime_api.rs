//! A minimal Lambda Runtime API (the 2018-06-01 interface the runtime clients poll) serving one
//! invocation, for the cold-start harness: the first `GET /runtime/invocation/next` gets the
//! payload; later ones wait forever (the harness stops the process); the first response, error
//! or init error is handed to the harness with the instant it arrived.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The request id of the one invocation.
pub const REQUEST_ID: &str = "00000000-0000-4000-8000-00000000be9c";

/// What the function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `POST /runtime/invocation/{id}/response`.
    Response(Vec<u8>),
    /// `POST /runtime/invocation/{id}/error`.
    Error(Vec<u8>),
    /// `POST /runtime/init/error`.
    InitError(Vec<u8>),
}

/// Where the first answer goes, once.
type AnswerSlot = Arc<Mutex<Option<oneshot::Sender<(Answer, Instant)>>>>;

#[derive(Clone)]
struct Shared {
    payload: Bytes,
    served: Arc<Mutex<Option<Instant>>>,
    answer: AnswerSlot,
    function_name: String,
}

/// A running emulator; dropping it stops it.
pub struct Emulator {
    addr: SocketAddr,
    served: Arc<Mutex<Option<Instant>>>,
    answer: Option<oneshot::Receiver<(Answer, Instant)>>,
    server: JoinHandle<()>,
}

impl Emulator {
    /// Serves `payload` as the one invocation of `function_name` on a free loopback port.
    pub async fn start(payload: Vec<u8>, function_name: &str) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let served: Arc<Mutex<Option<Instant>>> = Arc::default();
        let shared = Shared {
            payload: Bytes::from(payload),
            served: served.clone(),
            answer: Arc::new(Mutex::new(Some(tx))),
            function_name: function_name.to_string(),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|s: State<Shared>, body: Bytes| answer(s, Answer::Response(body.to_vec()))),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(|s: State<Shared>, body: Bytes| answer(s, Answer::Error(body.to_vec()))),
            )
            .route(
                "/2018-06-01/runtime/init/error",
                post(|s: State<Shared>, body: Bytes| answer(s, Answer::InitError(body.to_vec()))),
            )
            .with_state(shared);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Emulator {
            addr,
            served,
            answer: Some(rx),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an invocation (its initialisation was over), if it did.
    pub fn first_poll(&self) -> Option<Instant> {
        *self
            .served
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for the function's answer and when it arrived; `None` if the emulator stopped first.
    pub async fn answer(&mut self) -> Option<(Answer, Instant)> {
        self.answer.take()?.await.ok()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Shared>) -> (StatusCode, HeaderMap, Bytes) {
    let first = {
        let mut served = shared
            .served
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        served.replace(Instant::now()).is_none()
    };
    if !first {
        // One invocation only: the harness stops the process while it waits here.
        std::future::pending::<()>().await;
    }
    let deadline = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
        + 60_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", REQUEST_ID.to_string());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            shared.function_name
        ),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=0;Sampled=0".to_string(),
    );
    set("content-type", "application/json".to_string());
    (StatusCode::OK, headers, shared.payload.clone())
}

async fn answer(State(shared): State<Shared>, answer: Answer) -> StatusCode {
    let arrived = Instant::now();
    let tx = shared
        .answer
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(tx) = tx {
        let _ = tx.send((answer, arrived));
    }
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn one_invocation_is_served_and_its_response_handed_over() {
        // GIVEN an emulator with one payload
        let mut emulator = Emulator::start(br#"{"hello":"world"}"#.to_vec(), "fn-1")
            .await
            .unwrap();
        let base = format!("http://{}/2018-06-01/runtime", emulator.runtime_api());
        let client = reqwest::Client::new();
        // WHEN a runtime client asks for the next invocation
        let next = client
            .get(format!("{base}/invocation/next"))
            .send()
            .await
            .unwrap();
        // THEN it gets the payload with the request id and the function's ARN
        assert_eq!(next.headers()["lambda-runtime-aws-request-id"], REQUEST_ID);
        assert!(
            next.headers()["lambda-runtime-invoked-function-arn"]
                .to_str()
                .unwrap()
                .ends_with(":function:fn-1")
        );
        assert_eq!(next.text().await.unwrap(), r#"{"hello":"world"}"#);
        // AND its response reaches the harness
        let posted = client
            .post(format!("{base}/invocation/{REQUEST_ID}/response"))
            .body("{\"statusCode\":200}")
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 202);
        let (answer, _) = emulator.answer().await.unwrap();
        assert_eq!(answer, Answer::Response(b"{\"statusCode\":200}".to_vec()));
        // AND a second poll waits (one invocation only)
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(200),
            client.get(format!("{base}/invocation/next")).send(),
        )
        .await;
        assert!(second.is_err(), "a second invocation was served");
    }
}
