//! The narrow slice of Stripe's API that `setup` and `doctor` use: JSON in, JSON out, with the
//! same idempotency and retries as the functions' client.

use async_trait::async_trait;
use billing::stripe::StripeError;
use billing::stripe::params::FormFields;
use serde_json::Value;

/// Generic Stripe calls for administration.
#[async_trait]
pub trait AdminApi: Send + Sync {
    /// `GET path?query`.
    async fn get(&self, path: &str, query: &FormFields) -> Result<Value, StripeError>;
    /// `POST path` with a form body under `idempotency_key`.
    async fn post(
        &self,
        path: &str,
        form: &FormFields,
        idempotency_key: &str,
    ) -> Result<Value, StripeError>;
}

#[async_trait]
impl AdminApi for billing_adapters::stripe_http::StripeHttpClient {
    async fn get(&self, path: &str, query: &FormFields) -> Result<Value, StripeError> {
        self.get_json(path, query).await
    }

    async fn post(
        &self,
        path: &str,
        form: &FormFields,
        idempotency_key: &str,
    ) -> Result<Value, StripeError> {
        self.post_form(path, form, idempotency_key).await
    }
}

/// Every object of a list endpoint, following `has_more` with `starting_after`.
pub async fn list_all(
    api: &dyn AdminApi,
    path: &str,
    query: &FormFields,
) -> Result<Vec<Value>, StripeError> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let mut page_query = query.clone();
        page_query.push(("limit".into(), "100".into()));
        if let Some(last) = all.last().and_then(|o| o.get("id")).and_then(Value::as_str) {
            page_query.push(("starting_after".into(), last.to_string()));
        }
        let page = api.get(path, &page_query).await?;
        let data = page
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let has_more = page.get("has_more").and_then(Value::as_bool) == Some(true);
        let empty = data.is_empty();
        all.extend(data);
        if !has_more || empty {
            return Ok(all);
        }
    }
}
