//! Billing meters: create, retrieve, update (`display_name`), list, deactivate, reactivate, and
//! `GET /v1/billing/meters/{id}/event_summaries`, which aggregates accepted meter events per the
//! meter's formula over `start_time <= timestamp < end_time`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::meter_events::MeterEvent;
use super::respond;
use crate::errors::{ApiError, ApiResult};
use crate::events::previous_attributes;
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::Endpoint;
use crate::state::{App, Record};

/// How a meter aggregates event values over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formula {
    /// Sum of the values.
    Sum,
    /// Number of events.
    Count,
    /// The value of the latest event.
    Last,
}

impl Formula {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Formula::Sum => "sum",
            Formula::Count => "count",
            Formula::Last => "last",
        }
    }

    /// Aggregates events (given oldest first, by arrival).
    pub fn aggregate<'a>(self, events: impl Iterator<Item = &'a MeterEvent>) -> i64 {
        match self {
            Formula::Sum => events.map(|e| e.value).fold(0, i64::saturating_add),
            Formula::Count => i64::try_from(events.count()).unwrap_or(i64::MAX),
            Formula::Last => events
                .max_by_key(|e| (e.timestamp, e.seq))
                .map_or(0, |e| e.value),
        }
    }
}

/// A stored meter.
#[derive(Debug, Clone)]
pub struct Meter {
    /// `mtr_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
    /// Name shown in the dashboard.
    pub display_name: String,
    /// The `event_name` meter events must carry.
    pub event_name: String,
    /// Aggregation formula.
    pub formula: Formula,
    /// Payload key holding the customer id (default `stripe_customer_id`).
    pub customer_key: String,
    /// Payload key holding the value (default `value`).
    pub value_key: String,
    /// `hour` or `day` for pre-aggregated meters.
    pub event_time_window: Option<&'static str>,
    /// Whether it accepts events.
    pub active: bool,
    /// When it was last deactivated.
    pub deactivated_at: Option<i64>,
}

impl Record for Meter {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Meter {
    /// The meter in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "billing.meter",
            "created": self.created,
            "customer_mapping": {"event_payload_key": self.customer_key, "type": "by_id"},
            "default_aggregation": {"formula": self.formula.as_str()},
            "display_name": self.display_name,
            "event_name": self.event_name,
            "event_time_window": self.event_time_window,
            "livemode": false,
            "status": if self.active { "active" } else { "inactive" },
            "status_transitions": {"deactivated_at": self.deactivated_at},
            "updated": self.updated,
            "value_settings": {"event_payload_key": self.value_key},
        })
    }

    /// Seconds in the pre-aggregation window, if any.
    fn window_secs(&self) -> Option<i64> {
        match self.event_time_window {
            Some("hour") => Some(3_600),
            Some("day") => Some(86_400),
            _ => None,
        }
    }
}

/// `POST /v1/billing/meters`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing/meters",
    params: &[
        "customer_mapping[event_payload_key]",
        "customer_mapping[type]",
        "default_aggregation[formula]",
        "display_name",
        "event_name",
        "event_time_window",
        "expand[]",
        "value_settings[event_payload_key]",
    ],
};

/// `GET /v1/billing/meters/{id}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/billing/meters/{id}",
    params: &["expand[]"],
};

/// `POST /v1/billing/meters/{id}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing/meters/{id}",
    params: &["display_name", "expand[]"],
};

/// `POST /v1/billing/meters/{id}/deactivate`
pub const DEACTIVATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing/meters/{id}/deactivate",
    params: &["expand[]"],
};

/// `POST /v1/billing/meters/{id}/reactivate`
pub const REACTIVATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing/meters/{id}/reactivate",
    params: &["expand[]"],
};

/// `GET /v1/billing/meters`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/billing/meters",
    params: &[
        "status",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// `GET /v1/billing/meters/{id}/event_summaries`
pub const EVENT_SUMMARIES: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/billing/meters/{id}/event_summaries",
    params: &[
        "customer",
        "start_time",
        "end_time",
        "value_grouping_window",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

fn missing_meter(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "billing.meter",
        id: id.to_string(),
    }
}

/// Creates a meter.
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let aggregation = p
        .object("default_aggregation")
        .ok_or_else(|| ApiError::MissingParameter("default_aggregation".into()))?;
    let display_name = p.required_string("display_name", 250)?;
    let event_name = p.required_string("event_name", 100)?;
    let formula = match aggregation.one_of("formula", &["count", "last", "sum"])? {
        Some("count") => Formula::Count,
        Some("last") => Formula::Last,
        Some(_) => Formula::Sum,
        None => return Err(ApiError::MissingParameter(aggregation.name("formula"))),
    };
    let customer_key = match p.object("customer_mapping") {
        Some(mapping) => {
            if mapping.one_of("type", &["by_id"])?.is_none() {
                return Err(ApiError::MissingParameter(mapping.name("type")));
            }
            mapping.required_string("event_payload_key", 100)?
        }
        None => "stripe_customer_id".to_string(),
    };
    let value_key = match p.object("value_settings") {
        Some(settings) => settings.required_string("event_payload_key", 100)?,
        None => "value".to_string(),
    };
    let event_time_window = p.one_of("event_time_window", &["day", "hour"])?;
    let mut state = app.lock();
    if let Some((_, other)) = state
        .meters
        .newest_first()
        .find(|(_, m)| m.active && m.event_name == event_name)
    {
        return Err(ApiError::Refused {
            message: format!(
                "An active meter (`{}`) already uses the event_name `{event_name}`.",
                other.id
            ),
            param: Some("event_name".into()),
            code: Some("resource_already_exists"),
        });
    }
    let now = state.now();
    let meter = Meter {
        id: ids::new_id(Kind::Meter),
        created: now,
        updated: now,
        display_name,
        event_name,
        formula,
        customer_key,
        value_key,
        event_time_window,
        active: true,
        deactivated_at: None,
    };
    let rendered = meter.render();
    state.meters.insert(meter);
    state.emit(
        &ctx.origin(),
        "billing.meter.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Retrieves a meter.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let meter = state.meters.get(&id).ok_or_else(|| missing_meter(&id))?;
    respond(&state, meter.render(), &p.expand())
}

/// Renames a meter (its only mutable field).
pub async fn update(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let display_name = p.string("display_name", 250)?;
    if display_name.as_deref() == Some("") {
        return Err(p.empty_error("display_name"));
    }
    change(
        &app,
        &ctx,
        &id,
        &p.expand(),
        "billing.meter.updated",
        |meter, now| {
            if let Some(name) = display_name {
                meter.display_name = name;
                meter.updated = now;
            }
            Ok(())
        },
    )
}

/// Deactivates a meter: it stops accepting events.
pub async fn deactivate(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = DEACTIVATE.decode(&form)?;
    change(
        &app,
        &ctx,
        &id,
        &p.expand(),
        "billing.meter.deactivated",
        |meter, now| {
            if !meter.active {
                return Err(ApiError::Refused {
                    message: format!("The meter `{}` is already inactive.", meter.id),
                    param: None,
                    code: None,
                });
            }
            meter.active = false;
            meter.deactivated_at = Some(now);
            meter.updated = now;
            Ok(())
        },
    )
}

/// Reactivates a meter.
pub async fn reactivate(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = REACTIVATE.decode(&form)?;
    change(
        &app,
        &ctx,
        &id,
        &p.expand(),
        "billing.meter.reactivated",
        |meter, now| {
            if meter.active {
                return Err(ApiError::Refused {
                    message: format!("The meter `{}` is already active.", meter.id),
                    param: None,
                    code: None,
                });
            }
            meter.active = true;
            meter.updated = now;
            Ok(())
        },
    )
}

fn change(
    app: &App,
    ctx: &RequestContext,
    id: &str,
    expand: &[String],
    event: &str,
    apply: impl FnOnce(&mut Meter, i64) -> ApiResult<()>,
) -> ApiResult<Json<Value>> {
    let mut state = app.lock();
    let now = state.now();
    let meter = state.meters.get_mut(id).ok_or_else(|| missing_meter(id))?;
    let before = meter.render();
    apply(meter, now)?;
    let after = meter.render();
    if let Some(previous) = previous_attributes(&before, &after) {
        state.emit(&ctx.origin(), event, after.clone(), Some(previous));
    }
    respond(&state, after, expand)
}

/// Lists meters, newest first, optionally by `status`.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let status = p.one_of("status", &["active", "inactive"])?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.meters, "billing.meter", |m| {
        status.is_none_or(|s| (s == "active") == m.active)
    })?;
    let data = rows.into_iter().map(Meter::render).collect();
    respond(
        &state,
        list::envelope("/v1/billing/meters", data, has_more),
        &p.expand(),
    )
}

fn time_param(p: &crate::params::Params, key: &str, align: i64) -> ApiResult<i64> {
    let t = p
        .int(key)?
        .ok_or_else(|| ApiError::MissingParameter(key.into()))?;
    if t.rem_euclid(align) != 0 {
        let unit = match align {
            60 => "minute",
            3_600 => "hour",
            _ => "day (00:00 UTC)",
        };
        return Err(ApiError::InvalidParameter {
            param: key.into(),
            message: format!("`{key}` must be aligned with {unit} boundaries."),
            code: None,
        });
    }
    Ok(t)
}

/// Summaries of one customer's usage on a meter, per window, newest first.
pub async fn event_summaries(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = EVENT_SUMMARIES.decode(&form)?;
    let customer = p.required_string("customer", 5000)?;
    let window = p.one_of("value_grouping_window", &["day", "hour"])?;
    let align = match window {
        Some("hour") => 3_600,
        Some(_) => 86_400,
        None => 60,
    };
    let start = time_param(&p, "start_time", align)?;
    let end = time_param(&p, "end_time", align)?;
    if start >= end {
        return Err(ApiError::InvalidParameter {
            param: "end_time".into(),
            message: "`end_time` must be after `start_time`.".into(),
            code: None,
        });
    }
    let page = Page::from_params(&p)?;
    let state = app.lock();
    let meter = state.meters.get(&id).ok_or_else(|| missing_meter(&id))?;
    if state.customers.get(&customer).is_none() {
        return Err(ApiError::NoSuchReference {
            kind: "customer",
            id: customer,
            param: "customer".into(),
        });
    }
    let events = counted_events(meter, &state.meter_events, &customer);
    let step = if window.is_some() { align } else { end - start };
    let mut windows = Vec::new();
    let mut window_start = start;
    while window_start < end {
        let window_end = (window_start + step).min(end);
        windows.push((window_start, window_end));
        window_start = window_end;
    }
    windows.reverse();
    let summary_id = |(s, e): (i64, i64)| format!("mtrusg_{s:x}{e:x}");
    let position = |cursor: &str, param: &str| {
        windows
            .iter()
            .position(|w| summary_id(*w) == cursor)
            .ok_or_else(|| ApiError::NoSuchReference {
                kind: "billing.meter_event_summary",
                id: cursor.to_string(),
                param: param.to_string(),
            })
    };
    let (from, to) = if let Some(cursor) = &page.ending_before {
        let end_index = position(cursor, "ending_before")?;
        (end_index.saturating_sub(page.limit), end_index)
    } else if let Some(cursor) = &page.starting_after {
        let from = position(cursor, "starting_after")? + 1;
        (from, (from + page.limit).min(windows.len()))
    } else {
        (0, page.limit.min(windows.len()))
    };
    let has_more = if page.ending_before.is_some() {
        from > 0
    } else {
        to < windows.len()
    };
    let data = windows[from..to]
        .iter()
        .map(|&(s, e)| {
            let value = meter.formula.aggregate(
                events
                    .iter()
                    .copied()
                    .filter(|ev| s <= ev.timestamp && ev.timestamp < e),
            );
            json!({
                "id": summary_id((s, e)),
                "object": "billing.meter_event_summary",
                "aggregated_value": value,
                "end_time": e,
                "livemode": false,
                "meter": meter.id,
                "start_time": s,
            })
        })
        .collect();
    respond(
        &state,
        list::envelope(
            &format!("/v1/billing/meters/{id}/event_summaries"),
            data,
            has_more,
        ),
        &p.expand(),
    )
}

/// The events that count for a customer on a meter: all of them, or for pre-aggregated meters
/// only the most recently received one in each hour or day window.
/// The events that count for a customer on a meter: all of them, or with `event_time_window`
/// only the last received in each window.
pub fn counted_events<'a>(
    meter: &Meter,
    all: &'a [MeterEvent],
    customer: &str,
) -> Vec<&'a MeterEvent> {
    let mine = all
        .iter()
        .filter(|e| e.meter == meter.id && e.customer == customer);
    let Some(window) = meter.window_secs() else {
        return mine.collect();
    };
    let mut latest: std::collections::BTreeMap<i64, &MeterEvent> =
        std::collections::BTreeMap::new();
    for event in mine {
        latest.insert(event.timestamp.div_euclid(window), event);
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64, timestamp: i64, value: i64) -> MeterEvent {
        MeterEvent {
            seq,
            identifier: format!("id{seq}"),
            event_name: "e".into(),
            meter: "mtr_1".into(),
            customer: "cus_1".into(),
            value,
            timestamp,
            created: timestamp,
            payload: Default::default(),
        }
    }

    #[test]
    fn formulas_sum_count_and_take_the_latest_value() {
        // GIVEN three events, the latest by timestamp arriving first
        let events = [event(0, 300, 5), event(1, 100, 7), event(2, 200, 11)];
        // THEN sum adds, count counts and last takes the latest timestamp's value
        assert_eq!(Formula::Sum.aggregate(events.iter()), 23);
        assert_eq!(Formula::Count.aggregate(events.iter()), 3);
        assert_eq!(Formula::Last.aggregate(events.iter()), 5);
        assert_eq!(Formula::Last.aggregate([].iter()), 0);
    }

    #[test]
    fn pre_aggregated_meters_keep_the_latest_event_per_window() {
        let meter = Meter {
            id: "mtr_1".into(),
            created: 0,
            updated: 0,
            display_name: "m".into(),
            event_name: "e".into(),
            formula: Formula::Sum,
            customer_key: "stripe_customer_id".into(),
            value_key: "value".into(),
            event_time_window: Some("hour"),
            active: true,
            deactivated_at: None,
        };
        let events = [event(0, 10, 1), event(1, 20, 2), event(2, 3_700, 4)];
        let counted = counted_events(&meter, &events, "cus_1");
        assert_eq!(Formula::Sum.aggregate(counted.into_iter()), 6);
    }
}
