//! Test clocks: `POST /v1/test_helpers/test_clocks`, retrieve, list, advance, delete.
//!
//! A customer created with `test_clock` lives on it: its "now" is the clock's `frozen_time`
//! ([`crate::state::State::now_for`]). Advancing runs everything that falls due for those
//! customers in time order (period ends, invoice finalization and charges, payment retries,
//! checkout expiry; see [`crate::billing_cycle`]) before the answer is sent, emitting
//! `test_helpers.test_clock.advancing` then `test_helpers.test_clock.ready`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::respond;
use crate::errors::{ApiError, ApiResult};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::state::{App, Record};

/// Stripe deletes test clocks 30 days after creation.
pub const LIFETIME_SECS: i64 = 30 * 86_400;

/// A stored test clock.
#[derive(Debug, Clone)]
pub struct TestClock {
    /// `clock_...`
    pub id: String,
    /// Unix seconds (account clock).
    pub created: i64,
    /// The clock's time.
    pub frozen_time: i64,
    /// Optional label.
    pub name: Option<String>,
    /// `ready` or `advancing`.
    pub status: &'static str,
}

impl Record for TestClock {
    fn id(&self) -> &str {
        &self.id
    }
}

impl TestClock {
    /// The clock in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "test_helpers.test_clock",
            "created": self.created,
            "deletes_after": self.created + LIFETIME_SECS,
            "frozen_time": self.frozen_time,
            "livemode": false,
            "name": self.name,
            "status": self.status,
            "status_details": {},
        })
    }
}

/// `POST /v1/test_helpers/test_clocks`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/test_helpers/test_clocks",
    params: &["frozen_time", "name", "expand[]"],
};

/// `GET /v1/test_helpers/test_clocks/{test_clock}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/test_helpers/test_clocks/{test_clock}",
    params: &["expand[]"],
};

/// `GET /v1/test_helpers/test_clocks`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/test_helpers/test_clocks",
    params: &list::PAGE_PARAMS,
};

/// `POST /v1/test_helpers/test_clocks/{test_clock}/advance`
pub const ADVANCE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/test_helpers/test_clocks/{test_clock}/advance",
    params: &["frozen_time", "expand[]"],
};

/// `DELETE /v1/test_helpers/test_clocks/{test_clock}`
pub const DELETE: Endpoint = Endpoint {
    method: "DELETE",
    path: "/v1/test_helpers/test_clocks/{test_clock}",
    params: &[],
};

fn missing(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "test_clock",
        id: id.to_string(),
    }
}

fn frozen_time(p: &crate::params::Params) -> ApiResult<i64> {
    p.int("frozen_time")?
        .ok_or_else(|| ApiError::MissingParameter("frozen_time".into()))
}

/// Creates a clock at `frozen_time`.
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let frozen_time = frozen_time(&p)?;
    let name = p.nullable_string("name", 300)?.flatten();
    let mut state = app.lock();
    let clock = TestClock {
        id: ids::new_id(Kind::TestClock),
        created: state.now(),
        frozen_time,
        name,
        status: "ready",
    };
    let rendered = clock.render();
    state.test_clocks.insert(clock);
    state.emit(
        &ctx.origin(),
        "test_helpers.test_clock.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Retrieves a clock.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let clock = state.test_clocks.get(&id).ok_or_else(|| missing(&id))?;
    respond(&state, clock.render(), &p.expand())
}

/// Lists clocks, newest first.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.test_clocks, "test_clock", |_| true)?;
    let data = rows.into_iter().map(TestClock::render).collect();
    respond(
        &state,
        list::envelope("/v1/test_helpers/test_clocks", data, has_more),
        &p.expand(),
    )
}

/// Moves a clock forward to `frozen_time` and runs everything that falls due on the way. The
/// answer shows `status: advancing`, as Stripe's does; the work is done by the time it is sent, so
/// the next retrieve shows `ready`.
pub async fn advance(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = ADVANCE.decode(&form)?;
    let target = frozen_time(&p)?;
    let mut state = app.lock();
    let clock = state.test_clocks.get_mut(&id).ok_or_else(|| missing(&id))?;
    if target <= clock.frozen_time {
        return Err(ApiError::InvalidParameter {
            param: "frozen_time".into(),
            message: format!(
                "The test clock's frozen_time can only be advanced forward: {target} is not after the current frozen_time {}.",
                clock.frozen_time
            ),
            code: None,
        });
    }
    let started_at = clock.frozen_time;
    clock.status = "advancing";
    let advancing = clock.render();
    state.emit_at(
        started_at,
        &ctx.origin(),
        "test_helpers.test_clock.advancing",
        advancing.clone(),
        None,
    );
    if let Some(clock) = state.test_clocks.get_mut(&id) {
        clock.frozen_time = target;
    }
    crate::billing_cycle::catch_up(&mut state);
    let Some(clock) = state.test_clocks.get_mut(&id) else {
        return Err(missing(&id));
    };
    clock.status = "ready";
    let ready = clock.render();
    state.emit_at(
        target,
        &ctx.origin(),
        "test_helpers.test_clock.ready",
        ready,
        None,
    );
    let mut answer = advancing;
    answer["frozen_time"] = json!(target);
    respond(&state, answer, &p.expand())
}

/// Deletes a clock and, as Stripe does, the customers living on it with their subscriptions.
pub async fn delete(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    DELETE.decode(&form)?;
    let mut state = app.lock();
    let clock = state.test_clocks.remove(&id).ok_or_else(|| missing(&id))?;
    let customers: Vec<String> = state
        .customers
        .newest_first()
        .filter(|(_, c)| c.test_clock.as_deref() == Some(id.as_str()))
        .map(|(_, c)| c.id.clone())
        .collect();
    for customer in &customers {
        state.customers.remove(customer);
        let subscriptions: Vec<String> = state
            .subscriptions
            .newest_first()
            .filter(|(_, s)| &s.customer == customer)
            .map(|(_, s)| s.id.clone())
            .collect();
        for subscription in subscriptions {
            state.subscriptions.remove(&subscription);
        }
    }
    let deleted = json!({"id": clock.id, "object": "test_helpers.test_clock", "deleted": true});
    state.emit(
        &ctx.origin(),
        "test_helpers.test_clock.deleted",
        clock.render(),
        None,
    );
    Ok(Json(deleted))
}
