//! The local API: the HTTP API's four routes (the JWT authorizer in front of three), the
//! development routes under `/dev/`, and the web pages at `/`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use billing::ports::Clock;
use serde_json::{Map, Value};

use billing_lambda::manifest::{Auth, Route};

use crate::apigw::{self, HttpRequest, JwtAuthorizer};
use crate::functions::{self, HttpFunction};
use crate::jwt::{self, JwtError};
use crate::stack::Shared;

/// Largest request body API Gateway accepts (10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How long API Gateway waits for a function (HTTP APIs: 30 s, then 503).
pub const INTEGRATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One route of the HTTP API and the function behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiRoute {
    /// Method, path and authorizer, as the function's `MANIFEST` declares them.
    pub route: Route,
    /// The function behind it.
    pub function: HttpFunction,
}

impl ApiRoute {
    /// API Gateway's route key, `"POST /v1/stripe/webhook"`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.route.method, self.route.path)
    }
}

/// The HTTP API's routes: each HTTP function's routes from its `MANIFEST` (the declarations
/// `infra-check` holds the template to), so the local API cannot drift from the deployed one.
pub fn routes() -> Vec<ApiRoute> {
    [
        (&subscription::MANIFEST, HttpFunction::Subscription),
        (&checkout_session::MANIFEST, HttpFunction::CheckoutSession),
        (&portal_session::MANIFEST, HttpFunction::PortalSession),
        (&stripe_webhook::MANIFEST, HttpFunction::StripeWebhook),
    ]
    .into_iter()
    .flat_map(|(manifest, function)| {
        manifest
            .routes()
            .map(move |route| ApiRoute {
                route: *route,
                function,
            })
            .collect::<Vec<_>>()
    })
    .collect()
}

/// The router of the local API.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for route in routes() {
        router = router.route(
            route.route.path,
            any(
                move |state: State<Arc<Shared>>,
                      connect: ConnectInfo<SocketAddr>,
                      request: Request| async move {
                    api_route(state, connect, route, request).await
                },
            ),
        );
    }
    router
        .route("/dev/signup", post(crate::dev::signup))
        .route("/dev/usage", post(crate::dev::usage))
        .route("/dev/clock/advance", post(crate::dev::advance_clock))
        .route("/dev/info", get(crate::dev::info))
        .route("/dev/webhooks", get(crate::dev::webhooks))
        .route("/dev/stream", get(crate::dev::stream))
        .fallback(crate::web::serve)
        .with_state(shared)
}

/// The verified claims of the request's bearer token, or why there are none (`None`: no bearer
/// token at all); either way API Gateway answers [`unauthorized`].
pub fn authorize(
    shared: &Shared,
    headers: &axum::http::HeaderMap,
) -> Result<Map<String, Value>, Option<JwtError>> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        });
    let Some(token) = token else {
        return Err(None);
    };
    shared.jwt.verify(&token, shared.clock.now()).map_err(Some)
}

/// API Gateway's answer to a missing or invalid token.
pub fn unauthorized(error: Option<&JwtError>) -> Response {
    let mut response = apigw::gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    let challenge = match error {
        None => "Bearer".to_string(),
        Some(e) => format!("Bearer error=\"invalid_token\" error_description=\"{e}\""),
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    response
}

async fn api_route(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    route: ApiRoute,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    if parts.method.as_str() != route.route.method {
        // An HTTP API has no route for another method on this path.
        return apigw::gateway_error(StatusCode::NOT_FOUND, "Not Found");
    }
    let authorizer = match route.route.auth {
        Auth::None => None,
        Auth::Jwt => match authorize(&shared, &parts.headers) {
            Ok(claims) => {
                let (claims, scopes) = jwt::authorizer_claims(&claims);
                Some(JwtAuthorizer { claims, scopes })
            }
            Err(refusal) => return unauthorized(refusal.as_ref()),
        },
    };
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return apigw::gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
        }
    };
    let http = HttpRequest {
        method: &parts.method,
        path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
        source_ip: peer.ip(),
        local_port: shared_port(&shared),
    };
    let payload = apigw::request_payload(
        &route.route_key(),
        &http,
        authorizer.as_ref(),
        shared.clock.now_millis(),
        &apigw::api_request_id(),
    );
    let event = match apigw::typed_request(payload) {
        Ok(event) => event,
        Err(_) => return apigw::gateway_error(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let started = std::time::Instant::now();
    let invocation = functions::invoke_http(shared.clone(), route.function, event);
    let Ok(outcome) = tokio::time::timeout(INTEGRATION_TIMEOUT, invocation).await else {
        return apigw::gateway_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
    };
    match outcome {
        Ok(answer) => {
            let status = u16::try_from(answer.status_code).unwrap_or(0);
            if route.function == HttpFunction::StripeWebhook {
                let record = crate::stack::webhook_record(&body, status);
                tracing::info!(
                    route = %route.route_key(), status,
                    event = record.event_type.as_deref().unwrap_or("?"),
                    ms = started.elapsed().as_millis(),
                    "{}", route.function.name()
                );
                if let Ok(mut log) = shared.webhooks.lock() {
                    log.push(record);
                }
            } else {
                tracing::info!(
                    route = %route.route_key(), status,
                    ms = started.elapsed().as_millis(),
                    "{}", route.function.name()
                );
            }
            apigw::response_from_handler(&answer)
        }
        Err(e) => {
            tracing::warn!(error = %e, "function failed");
            apigw::gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

fn shared_port(shared: &Shared) -> u16 {
    shared
        .info
        .api_base_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}

/// A JSON answer with `status`.
pub fn json_answer(status: StatusCode, body: &Value) -> Response {
    (status, axum::Json(body.clone())).into_response()
}

/// Whether `method` is a read (static files answer GET and HEAD).
pub fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_routes_come_from_the_functions_manifests() {
        let keys: Vec<(String, Auth)> = routes()
            .iter()
            .map(|r| (r.route_key(), r.route.auth))
            .collect();
        assert_eq!(
            keys,
            [
                ("GET /admin/billing/subscription".to_string(), Auth::Jwt),
                (
                    "POST /admin/billing/checkout-session".to_string(),
                    Auth::Jwt
                ),
                ("POST /admin/billing/portal-session".to_string(), Auth::Jwt),
                ("POST /v1/stripe/webhook".to_string(), Auth::None),
            ]
        );
    }
}
