//! Prices: `POST /v1/prices`, `GET /v1/prices/{price}`, `POST /v1/prices/{price}`, `GET /v1/prices`.
//!
//! One-time and recurring; licensed or metered (backed by a billing meter, as required since
//! 2025-03-31.basil); per unit (`unit_amount` in integer cents or `unit_amount_decimal` as a decimal
//! string) or tiered (`tiers` with `tiers_mode`). No floats: amounts stay integers or decimal
//! strings throughout.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::products::{self, NewProduct};
use super::{Metadata, apply_metadata, respond};
use crate::errors::{ApiError, ApiResult};
use crate::events::{Origin, previous_attributes};
use crate::http::{Form, RequestContext};
use crate::ids::{self, Kind};
use crate::list::{self, Page};
use crate::params::{Endpoint, Params};
use crate::period::{Interval, Recurrence};
use crate::state::{App, Record, State as Account};

/// Whether usage is a quantity set on the subscription or measured by a meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageType {
    /// A quantity on the subscription item.
    Licensed,
    /// Measured by a billing meter.
    Metered,
}

impl UsageType {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            UsageType::Licensed => "licensed",
            UsageType::Metered => "metered",
        }
    }
}

/// A recurring price's `recurring` hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRecurring {
    /// Interval and count.
    pub recurrence: Recurrence,
    /// Licensed or metered.
    pub usage_type: UsageType,
    /// The meter behind a metered price.
    pub meter: Option<String>,
}

/// One tier of a tiered price. Amounts are decimal strings of cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    /// Upper bound in units; `None` is `inf`.
    pub up_to: Option<i64>,
    /// Per-unit amount within the tier.
    pub unit_amount_decimal: Option<String>,
    /// Flat amount for entering the tier.
    pub flat_amount_decimal: Option<String>,
}

/// A stored price.
#[derive(Debug, Clone)]
pub struct Price {
    /// `price_...`
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Whether it can be used for new purchases.
    pub active: bool,
    /// Lower-case ISO currency.
    pub currency: String,
    /// The product's id.
    pub product: String,
    /// Internal name.
    pub nickname: Option<String>,
    /// Unique lookup key, if any.
    pub lookup_key: Option<String>,
    /// Key-value pairs.
    pub metadata: Metadata,
    /// `per_unit` when `tiers` is empty, else `tiered`.
    pub tiers: Vec<Tier>,
    /// `graduated` or `volume` for tiered prices.
    pub tiers_mode: Option<&'static str>,
    /// Per-unit amount (decimal string of cents) for `per_unit` prices.
    pub unit_amount_decimal: Option<String>,
    /// Recurring details, `None` for one-time prices.
    pub recurring: Option<PriceRecurring>,
    /// `inclusive`, `exclusive` or `unspecified`.
    pub tax_behavior: &'static str,
}

impl Record for Price {
    fn id(&self) -> &str {
        &self.id
    }
}

impl Price {
    /// Whether the price is metered.
    pub fn is_metered(&self) -> bool {
        self.recurring
            .as_ref()
            .is_some_and(|r| r.usage_type == UsageType::Metered)
    }

    /// `per_unit` or `tiered`.
    pub fn billing_scheme(&self) -> &'static str {
        if self.tiers.is_empty() {
            "per_unit"
        } else {
            "tiered"
        }
    }

    /// The price in Stripe's shape (without `tiers`, which Stripe returns only when expanded).
    pub fn render(&self) -> Value {
        let recurring = self.recurring.as_ref().map(|r| {
            json!({
                "interval": r.recurrence.interval.as_str(),
                "interval_count": r.recurrence.count,
                "meter": r.meter,
                "trial_period_days": null,
                "usage_type": r.usage_type.as_str(),
            })
        });
        json!({
            "id": self.id,
            "object": "price",
            "active": self.active,
            "billing_scheme": self.billing_scheme(),
            "created": self.created,
            "currency": self.currency,
            "custom_unit_amount": null,
            "livemode": false,
            "lookup_key": self.lookup_key,
            "metadata": self.metadata,
            "nickname": self.nickname,
            "product": self.product,
            "recurring": recurring,
            "tax_behavior": self.tax_behavior,
            "tiers_mode": self.tiers_mode,
            "transform_quantity": null,
            "type": if self.recurring.is_some() { "recurring" } else { "one_time" },
            "unit_amount": self.unit_amount_decimal.as_deref().and_then(whole_cents),
            "unit_amount_decimal": self.unit_amount_decimal,
        })
    }

    /// The legacy `plan` view of a recurring price, as subscription items still carry it.
    pub fn render_plan(&self) -> Value {
        let recurring = self.recurring.as_ref();
        json!({
            "id": self.id,
            "object": "plan",
            "active": self.active,
            "amount": self.unit_amount_decimal.as_deref().and_then(whole_cents),
            "amount_decimal": self.unit_amount_decimal,
            "billing_scheme": self.billing_scheme(),
            "created": self.created,
            "currency": self.currency,
            "interval": recurring.map(|r| r.recurrence.interval.as_str()),
            "interval_count": recurring.map(|r| r.recurrence.count),
            "livemode": false,
            "metadata": self.metadata,
            "meter": recurring.and_then(|r| r.meter.clone()),
            "nickname": self.nickname,
            "product": self.product,
            "tiers_mode": self.tiers_mode,
            "transform_usage": null,
            "trial_period_days": null,
            "usage_type": recurring.map(|r| r.usage_type.as_str()),
        })
    }

    fn render_tiers(&self) -> Value {
        if self.tiers.is_empty() {
            return Value::Null;
        }
        self.tiers
            .iter()
            .map(|t| {
                json!({
                    "flat_amount": t.flat_amount_decimal.as_deref().and_then(whole_cents),
                    "flat_amount_decimal": t.flat_amount_decimal,
                    "unit_amount": t.unit_amount_decimal.as_deref().and_then(whole_cents),
                    "unit_amount_decimal": t.unit_amount_decimal,
                    "up_to": t.up_to,
                })
            })
            .collect()
    }
}

/// A price's `tiers` for `expand[]=tiers` (null for per-unit prices and unknown ids).
pub fn rendered_tiers(state: &Account, id: &str) -> Value {
    state
        .prices
        .get(id)
        .map_or(Value::Null, Price::render_tiers)
}

/// A non-negative decimal string with at most 12 decimal places, normalised
/// (`"0010.50"` -> `"10.5"`); `None` if malformed.
pub fn normalize_decimal(s: &str) -> Option<String> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 12 {
        return None;
    }
    if s.contains('.') && frac.is_empty() {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    Some(if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

/// The whole number of cents a normalised decimal string holds, if it has no fraction.
pub fn whole_cents(decimal: &str) -> Option<i64> {
    if decimal.contains('.') {
        None
    } else {
        decimal.parse().ok()
    }
}

/// `POST /v1/prices`
pub const CREATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/prices",
    params: &[
        "active",
        "billing_scheme",
        "currency",
        "expand[]",
        "lookup_key",
        "metadata[*]",
        "nickname",
        "product",
        "product_data[name]",
        "product_data[id]",
        "product_data[active]",
        "product_data[metadata][*]",
        "recurring[interval]",
        "recurring[interval_count]",
        "recurring[usage_type]",
        "recurring[meter]",
        "tax_behavior",
        "tiers[][up_to]",
        "tiers[][unit_amount]",
        "tiers[][unit_amount_decimal]",
        "tiers[][flat_amount]",
        "tiers[][flat_amount_decimal]",
        "tiers_mode",
        "transfer_lookup_key",
        "unit_amount",
        "unit_amount_decimal",
    ],
};

/// `GET /v1/prices/{price}`
pub const RETRIEVE: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/prices/{price}",
    params: &["expand[]"],
};

/// `POST /v1/prices/{price}`
pub const UPDATE: Endpoint = Endpoint {
    method: "POST",
    path: "/v1/prices/{price}",
    params: &[
        "active",
        "expand[]",
        "lookup_key",
        "metadata[*]",
        "nickname",
        "transfer_lookup_key",
    ],
};

/// `GET /v1/prices`
pub const LIST: Endpoint = Endpoint {
    method: "GET",
    path: "/v1/prices",
    params: &[
        "active",
        "currency",
        "lookup_keys[]",
        "product",
        "type",
        "recurring[interval]",
        "recurring[usage_type]",
        "recurring[meter]",
        "limit",
        "starting_after",
        "ending_before",
        "expand[]",
    ],
};

fn refused(message: impl Into<String>, param: Option<&str>) -> ApiError {
    ApiError::Refused {
        message: message.into(),
        param: param.map(str::to_string),
        code: None,
    }
}

/// Reads `amount` (integer cents) or `amount_decimal` (decimal string), at most one of them.
fn amount(p: &Params, int_key: &str, decimal_key: &str) -> ApiResult<Option<String>> {
    let int = p.int(int_key)?;
    let decimal = p.string(decimal_key, 100)?;
    match (int, decimal) {
        (Some(_), Some(_)) => Err(ApiError::Refused {
            message: format!(
                "You may only specify one of these parameters: {}, {}.",
                p.name(int_key),
                p.name(decimal_key)
            ),
            param: Some(p.name(int_key)),
            code: Some("parameters_exclusive"),
        }),
        (Some(n), None) if n < 0 => Err(ApiError::InvalidParameter {
            param: p.name(int_key),
            message: format!("Invalid non-negative integer: {n}"),
            code: None,
        }),
        (Some(n), None) => Ok(Some(n.to_string())),
        (None, Some(d)) => {
            normalize_decimal(&d)
                .map(Some)
                .ok_or_else(|| ApiError::InvalidParameter {
                    param: p.name(decimal_key),
                    message: format!("Invalid decimal: {d}"),
                    code: None,
                })
        }
        (None, None) => Ok(None),
    }
}

fn parse_tiers(p: &Params) -> ApiResult<Vec<Tier>> {
    let tiers = p.objects("tiers");
    let count = tiers.len();
    let mut parsed = Vec::with_capacity(count);
    let mut last_bound = 0;
    for (i, tier) in tiers.iter().enumerate() {
        let up_to = match tier.string("up_to", 5000)?.as_deref() {
            None => return Err(ApiError::MissingParameter(tier.name("up_to"))),
            Some("inf") => None,
            Some(n) => Some(n.parse::<i64>().map_err(|_| ApiError::InvalidInteger {
                param: tier.name("up_to"),
                value: n.to_string(),
            })?),
        };
        match up_to {
            None if i + 1 != count => {
                return Err(refused(
                    "Only the last tier can have `up_to` set to `inf`.",
                    Some(&tier.name("up_to")),
                ));
            }
            Some(_) if i + 1 == count => {
                return Err(refused(
                    "The last tier must have `up_to` set to `inf`.",
                    Some(&tier.name("up_to")),
                ));
            }
            Some(n) if n <= last_bound => {
                return Err(refused(
                    "Each tier's `up_to` must be a positive integer greater than the previous tier's.",
                    Some(&tier.name("up_to")),
                ));
            }
            Some(n) => last_bound = n,
            None => {}
        }
        let unit = amount(tier, "unit_amount", "unit_amount_decimal")?;
        let flat = amount(tier, "flat_amount", "flat_amount_decimal")?;
        if unit.is_none() && flat.is_none() {
            return Err(ApiError::MissingParameter(tier.name("unit_amount")));
        }
        parsed.push(Tier {
            up_to,
            unit_amount_decimal: unit,
            flat_amount_decimal: flat,
        });
    }
    Ok(parsed)
}

/// The first API version that refuses metered prices without a meter.
const METERS_REQUIRED_FROM: &str = "2025-03-31";

/// Whether a request pinned to `api_version` may still create a legacy metered price (no meter),
/// as Stripe allows integrations pinned before 2025-03-31.basil.
fn legacy_metered_allowed(api_version: &str) -> bool {
    api_version
        .get(..10)
        .is_some_and(|date| date < METERS_REQUIRED_FROM)
}

fn parse_recurring(
    state: &Account,
    p: &Params,
    api_version: &str,
) -> ApiResult<Option<PriceRecurring>> {
    let Some(r) = p.object("recurring") else {
        return Ok(None);
    };
    let interval = r
        .one_of("interval", &Interval::NAMES)?
        .and_then(Interval::parse)
        .ok_or_else(|| ApiError::MissingParameter(r.name("interval")))?;
    let count = r.int("interval_count")?.unwrap_or(1);
    let count = u32::try_from(count)
        .ok()
        .filter(|c| (1..=interval.max_count()).contains(c))
        .ok_or_else(|| {
            refused(
                "The maximum billing interval is one year (1 year, 12 months, 52 weeks or 365 days), and `interval_count` must be at least 1.",
                Some(&r.name("interval_count")),
            )
        })?;
    let usage_type = match r.one_of("usage_type", &["licensed", "metered"])? {
        Some("metered") => UsageType::Metered,
        _ => UsageType::Licensed,
    };
    let meter = r.string("meter", 5000)?.filter(|m| !m.is_empty());
    match (usage_type, &meter) {
        (UsageType::Metered, None) if !legacy_metered_allowed(api_version) => {
            return Err(ApiError::Refused {
                message: "Metered prices must be backed by a billing meter since API version 2025-03-31.basil: pass `recurring[meter]` when `recurring[usage_type]` is `metered`.".into(),
                param: Some(r.name("meter")),
                code: Some("parameter_missing"),
            });
        }
        (UsageType::Licensed, Some(_)) => {
            return Err(refused(
                "`recurring[meter]` can only be set when `recurring[usage_type]` is `metered`.",
                Some(&r.name("meter")),
            ));
        }
        (_, Some(id)) => {
            let meter = state
                .meters
                .get(id)
                .ok_or_else(|| ApiError::NoSuchReference {
                    kind: "billing.meter",
                    id: id.clone(),
                    param: r.name("meter"),
                })?;
            if !meter.active {
                return Err(refused(
                    format!("The meter `{id}` is inactive. Only active meters can back a price."),
                    Some(&r.name("meter")),
                ));
            }
        }
        _ => {}
    }
    Ok(Some(PriceRecurring {
        recurrence: Recurrence { interval, count },
        usage_type,
        meter,
    }))
}

/// Gives `price_id` the lookup key, moving it from another price when `transfer` is set.
fn claim_lookup_key(
    state: &mut Account,
    origin: &Origin,
    key: &str,
    price_id: &str,
    transfer: bool,
) -> ApiResult<()> {
    let holder = state
        .prices
        .newest_first()
        .find(|(_, p)| p.id != price_id && p.lookup_key.as_deref() == Some(key))
        .map(|(_, p)| p.id.clone());
    let Some(holder) = holder else {
        return Ok(());
    };
    if !transfer {
        return Err(refused(
            format!(
                "A price (`{holder}`) already uses that lookup key. Pass `transfer_lookup_key=true` to move it to this price."
            ),
            Some("lookup_key"),
        ));
    }
    if let Some(old) = state.prices.get_mut(&holder) {
        let before = old.render();
        old.lookup_key = None;
        let after = old.render();
        let previous = previous_attributes(&before, &after);
        state.emit(origin, "price.updated", after, previous);
    }
    Ok(())
}

/// Creates a price (and, with `product_data`, its product).
pub async fn create(
    State(app): State<App>,
    ctx: RequestContext,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = CREATE.decode(&form)?;
    let currency = p.required_string("currency", 3)?.to_ascii_lowercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
        return Err(ApiError::InvalidParameter {
            param: "currency".into(),
            message: format!("Invalid currency: {currency}."),
            code: None,
        });
    }
    let product_id = p.string("product", 5000)?.filter(|s| !s.is_empty());
    let product_data = p.object("product_data");
    let new_product = match (&product_id, &product_data) {
        (Some(_), Some(_)) => {
            return Err(ApiError::Refused {
                message: "You may only specify one of these parameters: product, product_data."
                    .into(),
                param: Some("product".into()),
                code: Some("parameters_exclusive"),
            });
        }
        (None, None) => {
            return Err(ApiError::Refused {
                message:
                    "You must specify either `product` or `product_data` when creating a price."
                        .into(),
                param: Some("product".into()),
                code: Some("parameter_missing"),
            });
        }
        (None, Some(data)) => Some(NewProduct {
            id: data.string("id", 5000)?.filter(|s| !s.is_empty()),
            name: data.required_string("name", 5000)?,
            active: data.bool("active")?,
            description: None,
            metadata: data.metadata()?,
        }),
        (Some(_), None) => None,
    };
    let billing_scheme = p
        .one_of("billing_scheme", &["per_unit", "tiered"])?
        .unwrap_or("per_unit");
    let tiers_mode = p.one_of("tiers_mode", &["graduated", "volume"])?;
    let unit_amount_decimal = amount(&p, "unit_amount", "unit_amount_decimal")?;
    let tiers = parse_tiers(&p)?;
    if billing_scheme == "per_unit" {
        if unit_amount_decimal.is_none() {
            return Err(ApiError::Refused {
                message: "You must pass either `unit_amount`, `unit_amount_decimal` or `custom_unit_amount` for a `per_unit` price.".into(),
                param: Some("unit_amount".into()),
                code: Some("parameter_missing"),
            });
        }
        if !tiers.is_empty() || tiers_mode.is_some() {
            return Err(refused(
                "`tiers` and `tiers_mode` can only be set when `billing_scheme` is `tiered`.",
                Some("tiers"),
            ));
        }
    } else {
        if unit_amount_decimal.is_some() {
            return Err(refused(
                "`unit_amount` and `unit_amount_decimal` cannot be set when `billing_scheme` is `tiered`; use `tiers`.",
                Some("unit_amount"),
            ));
        }
        if tiers.is_empty() {
            return Err(ApiError::MissingParameter("tiers".into()));
        }
        if tiers_mode.is_none() {
            return Err(ApiError::MissingParameter("tiers_mode".into()));
        }
    }
    let lookup_key = p.string("lookup_key", 200)?.filter(|s| !s.is_empty());
    let transfer = p.bool("transfer_lookup_key")?.unwrap_or(false);
    let nickname = p.nullable_string("nickname", 5000)?.flatten();
    let tax_behavior = p
        .one_of("tax_behavior", &["exclusive", "inclusive", "unspecified"])?
        .unwrap_or("unspecified");
    let active = p.bool("active")?.unwrap_or(true);
    let metadata = p.metadata()?;

    let origin = ctx.origin();
    let mut state = app.lock();
    let recurring = parse_recurring(&state, &p, &ctx.api_version)?;
    if billing_scheme == "tiered" && recurring.is_none() {
        return Err(refused(
            "Tiered pricing is only supported for recurring prices; pass `recurring`.",
            Some("billing_scheme"),
        ));
    }
    if let Some(id) = &product_id {
        if state.products.get(id).is_none() {
            return Err(ApiError::NoSuchReference {
                kind: "product",
                id: id.clone(),
                param: "product".into(),
            });
        }
    }
    let price_id = ids::new_id(Kind::Price);
    if let Some(key) = &lookup_key {
        // Check before creating anything, so a refused key leaves no orphan product behind.
        let taken = state
            .prices
            .newest_first()
            .any(|(_, p)| p.lookup_key.as_deref() == Some(key.as_str()));
        if taken && !transfer {
            claim_lookup_key(&mut state, &origin, key, &price_id, false)?;
        }
    }
    let product = match new_product {
        Some(new) => products::insert(&mut state, &origin, new)?["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        None => product_id.unwrap_or_default(),
    };
    if let Some(key) = &lookup_key {
        claim_lookup_key(&mut state, &origin, key, &price_id, transfer)?;
    }
    let mut price = Price {
        id: price_id,
        created: state.now(),
        active,
        currency,
        product,
        nickname,
        lookup_key,
        metadata: Metadata::new(),
        tiers,
        tiers_mode,
        unit_amount_decimal,
        recurring,
        tax_behavior,
    };
    if let Some(update) = metadata {
        apply_metadata(&mut price.metadata, update);
    }
    let rendered = price.render();
    state.prices.insert(price);
    state.emit(&origin, "price.created", rendered.clone(), None);
    respond(&state, rendered, &p.expand())
}

/// Retrieves a price.
pub async fn retrieve(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = RETRIEVE.decode(&form)?;
    let state = app.lock();
    let price = state.prices.get(&id).ok_or(ApiError::NoSuchObject {
        kind: "price",
        id: id.clone(),
    })?;
    respond(&state, price.render(), &p.expand())
}

/// Updates a price's `active`, `lookup_key`, nickname and metadata.
pub async fn update(
    State(app): State<App>,
    ctx: RequestContext,
    Path(id): Path<String>,
    Form(form): Form,
) -> ApiResult<Json<Value>> {
    let p = UPDATE.decode(&form)?;
    let active = p.bool("active")?;
    let lookup_key = p.nullable_string("lookup_key", 200)?;
    let transfer = p.bool("transfer_lookup_key")?.unwrap_or(false);
    let nickname = p.nullable_string("nickname", 5000)?;
    let metadata = p.metadata()?;
    let origin = ctx.origin();
    let mut state = app.lock();
    if state.prices.get(&id).is_none() {
        return Err(ApiError::NoSuchObject {
            kind: "price",
            id: id.clone(),
        });
    }
    if let Some(Some(key)) = &lookup_key {
        claim_lookup_key(&mut state, &origin, key, &id, transfer)?;
    }
    let Some(price) = state.prices.get_mut(&id) else {
        return Err(ApiError::Internal("price vanished".into()));
    };
    let before = price.render();
    if let Some(active) = active {
        price.active = active;
    }
    if let Some(key) = lookup_key {
        price.lookup_key = key;
    }
    if let Some(nickname) = nickname {
        price.nickname = nickname;
    }
    if let Some(update) = metadata {
        apply_metadata(&mut price.metadata, update);
    }
    let after = price.render();
    if let Some(previous) = previous_attributes(&before, &after) {
        state.emit(&origin, "price.updated", after.clone(), Some(previous));
    }
    respond(&state, after, &p.expand())
}

/// Lists prices, newest first, by `active`, `currency`, `lookup_keys[]`, `product`, `type` and
/// `recurring[...]`.
pub async fn list(State(app): State<App>, Form(form): Form) -> ApiResult<Json<Value>> {
    let p = LIST.decode(&form)?;
    let page = Page::from_params(&p)?;
    let active = p.bool("active")?;
    let currency = p.string("currency", 3)?.map(|c| c.to_ascii_lowercase());
    let lookup_keys = p.strings("lookup_keys");
    if lookup_keys.len() > 10 {
        return Err(refused(
            "You can specify up to 10 lookup_keys.",
            Some("lookup_keys"),
        ));
    }
    let product = p.string("product", 5000)?;
    let kind = p.one_of("type", &["one_time", "recurring"])?;
    let recurring = p.object("recurring").unwrap_or_default();
    let interval = recurring.one_of("interval", &Interval::NAMES)?;
    let usage_type = recurring.one_of("usage_type", &["licensed", "metered"])?;
    let meter = recurring.string("meter", 5000)?;
    let state = app.lock();
    let (rows, has_more) = page.select(&state.prices, "price", |price| {
        let rec = price.recurring.as_ref();
        active.is_none_or(|a| price.active == a)
            && currency.as_ref().is_none_or(|c| &price.currency == c)
            && (lookup_keys.is_empty()
                || price
                    .lookup_key
                    .as_ref()
                    .is_some_and(|k| lookup_keys.contains(k)))
            && product.as_ref().is_none_or(|id| &price.product == id)
            && kind.is_none_or(|k| (k == "recurring") == rec.is_some())
            && interval.is_none_or(|i| rec.is_some_and(|r| r.recurrence.interval.as_str() == i))
            && usage_type.is_none_or(|u| rec.is_some_and(|r| r.usage_type.as_str() == u))
            && meter
                .as_ref()
                .is_none_or(|m| rec.is_some_and(|r| r.meter.as_ref() == Some(m)))
    })?;
    let data = rows.into_iter().map(Price::render).collect();
    respond(
        &state,
        list::envelope("/v1/prices", data, has_more),
        &p.expand(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_amounts_are_normalised_without_floats() {
        assert_eq!(normalize_decimal("2000").as_deref(), Some("2000"));
        assert_eq!(normalize_decimal("0010.500").as_deref(), Some("10.5"));
        assert_eq!(
            normalize_decimal("0.000000000001").as_deref(),
            Some("0.000000000001")
        );
        assert_eq!(normalize_decimal("1.0").as_deref(), Some("1"));
        for bad in ["", "-1", "1.", ".5", "1e3", "1.0000000000001", "abc"] {
            assert_eq!(normalize_decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_whole_decimals_have_an_integer_amount() {
        assert_eq!(whole_cents("2900"), Some(2900));
        assert_eq!(whole_cents("0.5"), None);
    }
}
