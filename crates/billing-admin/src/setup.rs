//! `setup`: makes a Stripe account hold what the functions expect. Idempotent: objects are found
//! again by stable keys and left alone when right; a second run changes nothing.

use secrecy::SecretString;
use serde_json::Value;

use crate::admin_api::{AdminApi, list_all};
use crate::checks;
use crate::desired::{BASE_PRICE_LOOKUP_KEY, DesiredAccount, MANAGED_BY};
use billing::stripe::StripeError;
use billing::stripe::params::FormFields;

/// What `setup` did to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It was missing and was created.
    Created,
    /// It existed and was right.
    Unchanged,
    /// It existed and was corrected in place.
    Updated,
    /// It existed but could not be corrected in place (prices and meters are immutable), so a
    /// correct one was created beside it.
    Replaced {
        /// The object left behind.
        old_id: String,
    },
}

/// One object `setup` looked after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What it is ("meter", "base price", ...).
    pub object: &'static str,
    /// Its id now.
    pub id: String,
    /// What was done.
    pub change: Change,
}

/// Everything `setup` did, and the values to deploy with.
#[derive(Debug, Default)]
pub struct SetupReport {
    /// One entry per object.
    pub actions: Vec<Action>,
    /// `NAME=value` lines for the functions' environment.
    pub env: Vec<(String, String)>,
    /// The signing secret of a webhook endpoint created now; Stripe shows it only once.
    pub new_webhook_secret: Option<SecretString>,
}

/// A failed setup.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Stripe refused or could not be reached.
    #[error("Stripe call failed while setting up the {object}")]
    Stripe {
        /// The object being set up.
        object: &'static str,
        /// Why.
        #[source]
        source: Box<StripeError>,
    },
    /// Stripe answered without something it always sends.
    #[error("Stripe's answer for the {object} has no {field}")]
    Unexpected {
        /// The object.
        object: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// The configured pricing cannot be expressed as a Stripe price.
    #[error("the configured pricing cannot be set up: {0}")]
    Pricing(#[from] billing::money::MoneyError),
}

fn id_of(object: &Value, name: &'static str) -> Result<String, SetupError> {
    object
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or(SetupError::Unexpected {
            object: name,
            field: "id",
        })
}

fn with<'a>(object: &'static str) -> impl FnOnce(StripeError) -> SetupError + 'a {
    move |source| SetupError::Stripe {
        object,
        source: Box::new(source),
    }
}

/// Finds the active meter with `event_name`.
pub async fn find_meter(
    api: &dyn AdminApi,
    event_name: &str,
) -> Result<Option<Value>, StripeError> {
    let meters = list_all(
        api,
        "/v1/billing/meters",
        &vec![("status".into(), "active".into())],
    )
    .await?;
    Ok(meters
        .into_iter()
        .find(|m| m.get("event_name").and_then(Value::as_str) == Some(event_name)))
}

/// Finds the active price with `lookup_key`, with its tiers expanded.
pub async fn find_price(
    api: &dyn AdminApi,
    lookup_key: &str,
) -> Result<Option<Value>, StripeError> {
    let query: FormFields = vec![
        ("lookup_keys[]".into(), lookup_key.into()),
        ("active".into(), "true".into()),
        ("expand[]".into(), "data.tiers".into()),
    ];
    let page = api.get("/v1/prices", &query).await?;
    Ok(page
        .get("data")
        .and_then(Value::as_array)
        .and_then(|d| d.first().cloned()))
}

/// Finds our portal configuration: the one tagged by `setup`, else the account's default.
pub async fn find_portal_configuration(api: &dyn AdminApi) -> Result<Option<Value>, StripeError> {
    let all = list_all(
        api,
        "/v1/billing_portal/configurations",
        &vec![("active".into(), "true".into())],
    )
    .await?;
    let tagged = all
        .iter()
        .find(|c| {
            c.pointer(&format!("/metadata/{}", MANAGED_BY.0))
                .and_then(Value::as_str)
                == Some(MANAGED_BY.1)
        })
        .cloned();
    Ok(tagged.or_else(|| {
        all.into_iter()
            .find(|c| c.get("is_default").and_then(Value::as_bool) == Some(true))
    }))
}

/// Finds the webhook endpoint for `url` (any of ours when `url` is `None`).
pub async fn find_webhook_endpoint(
    api: &dyn AdminApi,
    url: Option<&str>,
) -> Result<Option<Value>, StripeError> {
    let all = list_all(api, "/v1/webhook_endpoints", &Vec::new()).await?;
    Ok(all.into_iter().find(|e| match url {
        Some(url) => e.get("url").and_then(Value::as_str) == Some(url),
        None => {
            e.pointer(&format!("/metadata/{}", MANAGED_BY.0))
                .and_then(Value::as_str)
                == Some(MANAGED_BY.1)
        }
    }))
}

/// Runs `setup` against the account behind `api`.
pub async fn run(api: &dyn AdminApi, desired: &DesiredAccount) -> Result<SetupReport, SetupError> {
    let mut report = SetupReport::default();

    // 1. The meter (immutable: a wrong one is replaced by a new one).
    let meter = match find_meter(api, &desired.meter_event_name)
        .await
        .map_err(with("meter"))?
    {
        Some(meter) if !checks::check_meter(Some(&meter), desired).failed() => {
            report.actions.push(Action {
                object: "meter",
                id: id_of(&meter, "meter")?,
                change: Change::Unchanged,
            });
            meter
        }
        existing => {
            if let Some(old) = &existing {
                // Stripe refuses two active meters with one event name: deactivate the wrong one.
                let old_id = id_of(old, "meter")?;
                api.post(
                    &format!("/v1/billing/meters/{old_id}/deactivate"),
                    &Vec::new(),
                    &format!("setup-meter-deactivate-{old_id}"),
                )
                .await
                .map_err(with("meter"))?;
            }
            let created = api
                .post(
                    "/v1/billing/meters",
                    &desired.meter_form(),
                    &format!(
                        "setup-meter-{}-{}",
                        desired.meter_event_name,
                        existing
                            .as_ref()
                            .and_then(|o| o.get("id"))
                            .and_then(Value::as_str)
                            .unwrap_or("new")
                    ),
                )
                .await
                .map_err(with("meter"))?;
            let change = match existing {
                Some(old) => Change::Replaced {
                    old_id: id_of(&old, "meter")?,
                },
                None => Change::Created,
            };
            report.actions.push(Action {
                object: "meter",
                id: id_of(&created, "meter")?,
                change,
            });
            created
        }
    };
    let meter_id = id_of(&meter, "meter")?;

    // 2. The base price, found by lookup key; a wrong one hands its lookup key to a new one.
    let base_form = desired.base_price_form()?;
    let base = ensure_price(
        api,
        &mut report,
        "base price",
        BASE_PRICE_LOOKUP_KEY,
        base_form,
        |p| checks::check_base_price(Some(p), desired).failed(),
    )
    .await?;

    // 3. The usage price on the meter, for the allowance mode.
    let usage_key = desired.usage_price_lookup_key();
    let usage = ensure_price(
        api,
        &mut report,
        "usage price",
        &usage_key,
        desired.usage_price_form(&meter_id),
        |p| checks::check_usage_price(Some(p), Some(&meter_id), desired).failed(),
    )
    .await?;

    // 4. The portal configuration: corrected in place when wrong.
    let portal_form = desired.portal_configuration_form();
    match find_portal_configuration(api)
        .await
        .map_err(with("portal configuration"))?
    {
        Some(existing) if !checks::check_portal_configuration(Some(&existing)).failed() => {
            report.actions.push(Action {
                object: "portal configuration",
                id: id_of(&existing, "portal configuration")?,
                change: Change::Unchanged,
            });
        }
        Some(existing) => {
            let id = id_of(&existing, "portal configuration")?;
            api.post(
                &format!("/v1/billing_portal/configurations/{id}"),
                &without_business_profile(&portal_form),
                &format!("setup-portal-update-{id}"),
            )
            .await
            .map_err(with("portal configuration"))?;
            report.actions.push(Action {
                object: "portal configuration",
                id,
                change: Change::Updated,
            });
        }
        None => {
            let created = api
                .post(
                    "/v1/billing_portal/configurations",
                    &portal_form,
                    "setup-portal-configuration",
                )
                .await
                .map_err(with("portal configuration"))?;
            report.actions.push(Action {
                object: "portal configuration",
                id: id_of(&created, "portal configuration")?,
                change: Change::Created,
            });
        }
    }

    // 5. The webhook endpoint, when a URL is given.
    if let Some(url) = &desired.webhook_url {
        ensure_webhook_endpoint(api, &mut report, desired, url).await?;
    }

    report.env = vec![
        ("STRIPE_PRICE_ID".into(), id_of(&base, "base price")?),
        (
            "STRIPE_METERED_PRICE_ID".into(),
            id_of(&usage, "usage price")?,
        ),
        (
            "STRIPE_METER_EVENT_NAME".into(),
            desired.meter_event_name.clone(),
        ),
        ("STRIPE_METER_ID".into(), meter_id),
        (
            "USAGE_ALLOWANCE_MODE".into(),
            desired.pricing.mode().to_string(),
        ),
        (
            "USAGE_ALLOWANCE_USD".into(),
            desired.pricing.allowance().to_string(),
        ),
    ];
    Ok(report)
}

/// 32 hex digits of SHA-256: keeps idempotency keys short (Stripe allows 255 characters) and stable.
fn short_digest(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))[..32].to_string()
}

fn without_business_profile(form: &FormFields) -> FormFields {
    form.iter()
        .filter(|(k, _)| !k.starts_with("business_profile"))
        .cloned()
        .collect()
}

async fn ensure_price(
    api: &dyn AdminApi,
    report: &mut SetupReport,
    object: &'static str,
    lookup_key: &str,
    mut form: FormFields,
    is_wrong: impl Fn(&Value) -> bool,
) -> Result<Value, SetupError> {
    let existing = find_price(api, lookup_key).await.map_err(with(object))?;
    if let Some(price) = &existing
        && !is_wrong(price)
    {
        report.actions.push(Action {
            object,
            id: id_of(price, object)?,
            change: Change::Unchanged,
        });
        return Ok(price.clone());
    }
    let key_suffix = match &existing {
        Some(old) => {
            form.push(("transfer_lookup_key".into(), "true".into()));
            id_of(old, object)?
        }
        None => "new".into(),
    };
    let created = api
        .post(
            "/v1/prices",
            &form,
            &format!("setup-price-{lookup_key}-{key_suffix}"),
        )
        .await
        .map_err(with(object))?;
    let change = match existing {
        Some(old) => Change::Replaced {
            old_id: id_of(&old, object)?,
        },
        None => Change::Created,
    };
    report.actions.push(Action {
        object,
        id: id_of(&created, object)?,
        change,
    });
    Ok(created)
}

async fn ensure_webhook_endpoint(
    api: &dyn AdminApi,
    report: &mut SetupReport,
    desired: &DesiredAccount,
    url: &str,
) -> Result<(), SetupError> {
    const OBJECT: &str = "webhook endpoint";
    let existing = find_webhook_endpoint(api, Some(url))
        .await
        .map_err(with(OBJECT))?;
    match existing {
        Some(endpoint) if !checks::check_webhook_endpoint(Some(&endpoint), desired).failed() => {
            report.actions.push(Action {
                object: OBJECT,
                id: id_of(&endpoint, OBJECT)?,
                change: Change::Unchanged,
            });
        }
        Some(endpoint)
            if endpoint.get("api_version").and_then(Value::as_str)
                == Some(desired.api_version.as_str()) =>
        {
            // Same version: enable the events (and the endpoint) in place; the secret stays.
            let id = id_of(&endpoint, OBJECT)?;
            let mut form: FormFields = desired
                .webhook_endpoint_form(url)
                .into_iter()
                .filter(|(k, _)| k.starts_with("enabled_events"))
                .collect();
            form.push(("disabled".into(), "false".into()));
            api.post(
                &format!("/v1/webhook_endpoints/{id}"),
                &form,
                &format!("setup-webhook-update-{id}"),
            )
            .await
            .map_err(with(OBJECT))?;
            report.actions.push(Action {
                object: OBJECT,
                id,
                change: Change::Updated,
            });
        }
        existing => {
            // New, or pinned to another API version (which cannot change): a new endpoint and secret.
            let created = api
                .post(
                    "/v1/webhook_endpoints",
                    &desired.webhook_endpoint_form(url),
                    &format!(
                        "setup-webhook-{}",
                        short_digest(&format!("{url}#{}", desired.api_version))
                    ),
                )
                .await
                .map_err(with(OBJECT))?;
            report.new_webhook_secret = created
                .get("secret")
                .and_then(Value::as_str)
                .map(|s| SecretString::from(s.to_string()));
            let change = match existing {
                Some(old) => Change::Replaced {
                    old_id: id_of(&old, OBJECT)?,
                },
                None => Change::Created,
            };
            report.actions.push(Action {
                object: OBJECT,
                id: id_of(&created, OBJECT)?,
                change,
            });
        }
    }
    Ok(())
}
