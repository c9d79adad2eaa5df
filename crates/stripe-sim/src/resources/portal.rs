//! The customer portal: configurations (`POST/GET /v1/billing_portal/configurations[/{id}]`) and
//! sessions (`POST /v1/billing_portal/sessions`). A session's `url` is a page the stand-in serves
//! ([`crate::pages::portal`]) offering what the configuration allows: cancel (at period end or
//! immediately), replace the card, see invoices.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::{Endpoint, Params};
use crate::state::{App, Record, State as Account};

/// How the portal cancels a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// `cancel_at_period_end=true`.
    AtPeriodEnd,
    /// Canceled now, with a final invoice for the usage so far.
    Immediately,
}

impl CancelMode {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            CancelMode::AtPeriodEnd => "at_period_end",
            CancelMode::Immediately => "immediately",
        }
    }
}

/// A stored portal configuration.
#[derive(Debug, Clone)]
pub struct PortalConfiguration {
    /// `bpc_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Unix seconds of the last change.
    pub updated: i64,
    /// Whether sessions may use it.
    pub active: bool,
    /// The account's default (the first one created).
    pub is_default: bool,
    /// `business_profile.headline`.
    pub headline: Option<String>,
    /// `business_profile.privacy_policy_url`.
    pub privacy_policy_url: Option<String>,
    /// `business_profile.terms_of_service_url`.
    pub terms_of_service_url: Option<String>,
    /// Where the portal links back to when a session gives no `return_url`.
    pub default_return_url: Option<String>,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// `features.subscription_cancel.enabled`.
    pub cancel_enabled: bool,
    /// `features.subscription_cancel.mode`.
    pub cancel_mode: CancelMode,
    /// `features.payment_method_update.enabled`.
    pub payment_method_update: bool,
    /// `features.invoice_history.enabled`.
    pub invoice_history: bool,
    /// `features.customer_update.enabled`.
    pub customer_update: bool,
    /// `features.customer_update.allowed_updates`.
    pub customer_update_allowed: Vec<String>,
}

impl Record for PortalConfiguration {
    fn id(&self) -> &str {
        &self.id
    }
}

impl PortalConfiguration {
    /// The configuration in Stripe's shape.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "billing_portal.configuration",
            "active": self.active,
            "application": null,
            "business_profile": {
                "headline": self.headline,
                "privacy_policy_url": self.privacy_policy_url,
                "terms_of_service_url": self.terms_of_service_url,
            },
            "created": self.created,
            "default_return_url": self.default_return_url,
            "features": {
                "customer_update": {
                    "allowed_updates": self.customer_update_allowed,
                    "enabled": self.customer_update,
                },
                "invoice_history": {"enabled": self.invoice_history},
                "payment_method_update": {
                    "enabled": self.payment_method_update,
                    "payment_method_configuration": null,
                },
                "subscription_cancel": {
                    "cancellation_reason": {"enabled": false, "options": []},
                    "enabled": self.cancel_enabled,
                    "mode": self.cancel_mode.as_str(),
                    "proration_behavior": "none",
                },
                "subscription_update": {
                    "billing_cycle_anchor": null,
                    "default_allowed_updates": [],
                    "enabled": false,
                    "products": [],
                    "proration_behavior": "none",
                    "schedule_at_period_end": {"conditions": []},
                    "trial_update_behavior": "end_trial",
                },
            },
            "is_default": self.is_default,
            "livemode": false,
            "login_page": {"enabled": false, "url": null},
            "metadata": self.metadata,
            "name": null,
            "updated": self.updated,
        })
    }
}

/// A stored portal session.
#[derive(Debug, Clone)]
pub struct PortalSession {
    /// `bps_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// The customer the portal is for.
    pub customer: String,
    /// The configuration it follows.
    pub configuration: String,
    /// Where the page's "return" link goes.
    pub return_url: Option<String>,
}

impl Record for PortalSession {
    fn id(&self) -> &str {
        &self.id
    }
}

impl PortalSession {
    /// The hosted page's address.
    pub fn page_url(&self, state: &Account) -> String {
        format!("{}/p/session/{}", state.base_url, self.id)
    }

    /// The session in Stripe's shape.
    pub fn render(&self, state: &Account) -> Value {
        json!({
            "id": self.id,
            "object": "billing_portal.session",
            "after_expiration": null,
            "configuration": self.configuration,
            "created": self.created,
            "customer": self.customer,
            "customer_account": null,
            "flow": null,
            "livemode": false,
            "locale": null,
            "on_behalf_of": null,
            "return_url": self.return_url,
            "url": self.page_url(state),
        })
    }
}

/// Fields both create and update take.
macro_rules! configuration_params {
    ($($extra:literal),*) => {
        &[
            $($extra,)*
            "business_profile[headline]",
            "business_profile[privacy_policy_url]",
            "business_profile[terms_of_service_url]",
            "default_return_url",
            "expand[]",
            "features[customer_update][allowed_updates][]",
            "features[customer_update][enabled]",
            "features[invoice_history][enabled]",
            "features[payment_method_update][enabled]",
            "features[subscription_cancel][enabled]",
            "features[subscription_cancel][mode]",
            "features[subscription_cancel][proration_behavior]",
            "metadata[*]",
        ]
    };
}

/// `POST /v1/billing_portal/configurations`
pub const CREATE_CONFIGURATION: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing_portal/configurations",
    params: configuration_params!(),
};

/// `GET /v1/billing_portal/configurations/{configuration}`
pub const RETRIEVE_CONFIGURATION: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/billing_portal/configurations/{configuration}",
    params: &["expand[]"],
};

/// `POST /v1/billing_portal/configurations/{configuration}`
pub const UPDATE_CONFIGURATION: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing_portal/configurations/{configuration}",
    params: configuration_params!("active"),
};

/// `GET /v1/billing_portal/configurations`
pub const LIST_CONFIGURATIONS: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/billing_portal/configurations",
    params: &[
        "active",
        "is_default",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

/// `POST /v1/billing_portal/sessions`
pub const CREATE_SESSION: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/billing_portal/sessions",
    params: &["configuration", "customer", "expand[]", "return_url"],
};

fn missing_configuration(id: &str) -> ApiError {
    ApiError::NoSuchObject {
        kind: "billing_portal.configuration",
        id: id.to_string(),
    }
}

/// Applies the fields create and update share. Unknown to the stand-in's pages but accepted and
/// rendered: the business profile's URLs and `customer_update`.
fn apply(config: &mut PortalConfiguration, p: &Params) -> ApiResult<()> {
    if let Some(profile) = p.object("business_profile") {
        if let Some(v) = profile.nullable_string("headline", 60)? {
            config.headline = v;
        }
        if let Some(v) = profile.url("privacy_policy_url")? {
            config.privacy_policy_url = v;
        }
        if let Some(v) = profile.url("terms_of_service_url")? {
            config.terms_of_service_url = v;
        }
    }
    if let Some(v) = p.url("default_return_url")? {
        config.default_return_url = v;
    }
    if let Some(update) = p.metadata()? {
        apply_metadata(&mut config.metadata, update);
    }
    let Some(features) = p.object("features") else {
        return Ok(());
    };
    if let Some(cancel) = features.object("subscription_cancel") {
        if let Some(on) = cancel.bool("enabled")? {
            config.cancel_enabled = on;
        }
        match cancel.one_of("mode", &["at_period_end", "immediately"])? {
            Some("immediately") => config.cancel_mode = CancelMode::Immediately,
            Some(_) => config.cancel_mode = CancelMode::AtPeriodEnd,
            None => {}
        }
        cancel.one_of(
            "proration_behavior",
            &["always_invoice", "create_prorations", "none"],
        )?;
    }
    if let Some(pm) = features.object("payment_method_update") {
        if let Some(on) = pm.bool("enabled")? {
            config.payment_method_update = on;
        }
    }
    if let Some(history) = features.object("invoice_history") {
        if let Some(on) = history.bool("enabled")? {
            config.invoice_history = on;
        }
    }
    if let Some(update) = features.object("customer_update") {
        if let Some(on) = update.bool("enabled")? {
            config.customer_update = on;
        }
        if update.has("allowed_updates") {
            config.customer_update_allowed = update.strings("allowed_updates");
        }
    }
    Ok(())
}

/// Creates a configuration; the account's first one is its default.
pub async fn create_configuration(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE_CONFIGURATION.decode(&form)?;
    let mut state = app.lock();
    let now = state.now();
    let mut config = PortalConfiguration {
        id: ids::new_id(Kind::PortalConfiguration),
        created: now,
        updated: now,
        active: true,
        is_default: state.portal_configurations.is_empty(),
        headline: None,
        privacy_policy_url: None,
        terms_of_service_url: None,
        default_return_url: None,
        metadata: Metadata::new(),
        cancel_enabled: false,
        cancel_mode: CancelMode::AtPeriodEnd,
        payment_method_update: false,
        invoice_history: false,
        customer_update: false,
        customer_update_allowed: Vec::new(),
    };
    apply(&mut config, &p)?;
    let rendered = config.render();
    state.portal_configurations.insert(config);
    state.emit(
        &ctx.origin(),
        "billing_portal.configuration.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}

/// Retrieves a configuration.
pub async fn retrieve_configuration(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE_CONFIGURATION.decode(&form)?;
    let state = app.lock();
    let config = state
        .portal_configurations
        .get(&id)
        .ok_or_else(|| missing_configuration(&id))?;
    respond(&state, config.render(), &p.expand())
}

/// Updates a configuration (the same fields as create, plus `active`).
pub async fn update_configuration(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE_CONFIGURATION.decode(&form)?;
    let active = p.bool("active")?;
    let mut state = app.lock();
    let now = state.now();
    let config = state
        .portal_configurations
        .get_mut(&id)
        .ok_or_else(|| missing_configuration(&id))?;
    let before = config.render();
    let mut changed = config.clone();
    apply(&mut changed, &p)?;
    if let Some(active) = active {
        if !active && changed.is_default {
            return Err(ApiError::Refused {
                message: "You cannot deactivate the default configuration.".into(),
                param: Some("active".into()),
                code: None,
            });
        }
        changed.active = active;
    }
    changed.updated = now;
    *config = changed;
    let after = config.render();
    let previous = crate::events::previous_attributes(&before, &after);
    state.emit(
        &ctx.origin(),
        "billing_portal.configuration.updated",
        after.clone(),
        previous,
    );
    respond(&state, after, &p.expand())
}

/// Lists configurations, newest first.
pub async fn list_configurations(
    State(app): State<App>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = LIST_CONFIGURATIONS.decode(&form)?;
    let page = Page::from_params(&p)?;
    let active = p.bool("active")?;
    let is_default = p.bool("is_default")?;
    let state = app.lock();
    let (rows, has_more) = page.select(
        &state.portal_configurations,
        "billing_portal.configuration",
        |c| active.is_none_or(|a| c.active == a) && is_default.is_none_or(|d| c.is_default == d),
    )?;
    let data = rows.into_iter().map(PortalConfiguration::render).collect();
    respond(
        &state,
        list::envelope("/v1/billing_portal/configurations", data, has_more),
        &p.expand(),
    )
}

/// Creates a portal session for a customer, with the given or the default configuration.
pub async fn create_session(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE_SESSION.decode(&form)?;
    let customer = p.required_string("customer", 5000)?;
    let configuration = p.string("configuration", 5000)?.filter(|c| !c.is_empty());
    let return_url = p.url("return_url")?.flatten();
    let mut state = app.lock();
    if state.customers.get(&customer).is_none() {
        return Err(ApiError::NoSuchReference {
            kind: "customer",
            id: customer,
            param: "customer".into(),
        });
    }
    let config = match &configuration {
        Some(id) => state
            .portal_configurations
            .get(id)
            .ok_or_else(|| ApiError::NoSuchReference {
                kind: "billing_portal.configuration",
                id: id.clone(),
                param: "configuration".into(),
            })?,
        None => state
            .portal_configurations
            .newest_first()
            .map(|(_, c)| c)
            .find(|c| c.is_default)
            .ok_or_else(|| ApiError::Refused {
                message: "No configuration provided and your test mode default configuration has not been created. Provide a configuration or create your default by saving your customer portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal.".into(),
                param: None,
                code: None,
            })?,
    };
    if !config.active {
        return Err(ApiError::Refused {
            message: "The configuration is not active.".into(),
            param: Some("configuration".into()),
            code: None,
        });
    }
    let session = PortalSession {
        id: ids::new_id(Kind::PortalSession),
        created: state.now_for(&customer),
        configuration: config.id.clone(),
        return_url: return_url.or_else(|| config.default_return_url.clone()),
        customer,
    };
    let rendered = session.render(&state);
    state.portal_sessions.insert(session);
    state.emit(
        &ctx.origin(),
        "billing_portal.session.created",
        rendered.clone(),
        None,
    );
    respond(&state, rendered, &p.expand())
}
