//! The route table: every endpoint's parameter table next to its handler, so the router and the
//! spec check read the same list.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::http;
use crate::params::Endpoint;
use crate::resources::{
    checkout, customers, events, invoices, meter_events, meters, portal, prices, products,
    subscriptions, test_clocks, webhook_endpoints,
};
use crate::state::App;

fn at<H, T>(endpoint: &'static Endpoint, handler: H) -> (&'static Endpoint, MethodRouter<App>)
where
    H: Handler<T, App>,
    T: 'static,
{
    let filter = match endpoint.method {
        "POST" => MethodFilter::POST,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::GET,
    };
    (endpoint, on(filter, handler))
}

fn table() -> Vec<(&'static Endpoint, MethodRouter<App>)> {
    vec![
        at(&customers::CREATE, customers::create),
        at(&customers::LIST, customers::list),
        at(&customers::RETRIEVE, customers::retrieve),
        at(&customers::UPDATE, customers::update),
        at(&products::CREATE, products::create),
        at(&products::LIST, products::list),
        at(&products::RETRIEVE, products::retrieve),
        at(&products::UPDATE, products::update),
        at(&prices::CREATE, prices::create),
        at(&prices::LIST, prices::list),
        at(&prices::RETRIEVE, prices::retrieve),
        at(&prices::UPDATE, prices::update),
        at(&meters::CREATE, meters::create),
        at(&meters::LIST, meters::list),
        at(&meters::RETRIEVE, meters::retrieve),
        at(&meters::UPDATE, meters::update),
        at(&meters::DEACTIVATE, meters::deactivate),
        at(&meters::REACTIVATE, meters::reactivate),
        at(&meters::EVENT_SUMMARIES, meters::event_summaries),
        at(&meter_events::CREATE, meter_events::create),
        at(&subscriptions::CREATE, subscriptions::create),
        at(&subscriptions::LIST, subscriptions::list),
        at(&subscriptions::RETRIEVE, subscriptions::retrieve),
        at(&subscriptions::UPDATE, subscriptions::update),
        at(&subscriptions::CANCEL, subscriptions::cancel),
        at(&webhook_endpoints::CREATE, webhook_endpoints::create),
        at(&webhook_endpoints::LIST, webhook_endpoints::list),
        at(&webhook_endpoints::RETRIEVE, webhook_endpoints::retrieve),
        at(&webhook_endpoints::UPDATE, webhook_endpoints::update),
        at(&webhook_endpoints::DELETE, webhook_endpoints::delete),
        at(&events::LIST, events::list),
        at(&events::RETRIEVE, events::retrieve),
        at(&test_clocks::CREATE, test_clocks::create),
        at(&test_clocks::LIST, test_clocks::list),
        at(&test_clocks::RETRIEVE, test_clocks::retrieve),
        at(&test_clocks::ADVANCE, test_clocks::advance),
        at(&test_clocks::DELETE, test_clocks::delete),
        at(&invoices::LIST, invoices::list),
        at(&invoices::RETRIEVE, invoices::retrieve),
        at(&checkout::CREATE, checkout::create),
        at(&checkout::LIST, checkout::list),
        at(&checkout::RETRIEVE, checkout::retrieve),
        at(&checkout::EXPIRE, checkout::expire),
        at(&portal::CREATE_CONFIGURATION, portal::create_configuration),
        at(&portal::LIST_CONFIGURATIONS, portal::list_configurations),
        at(
            &portal::RETRIEVE_CONFIGURATION,
            portal::retrieve_configuration,
        ),
        at(&portal::UPDATE_CONFIGURATION, portal::update_configuration),
        at(&portal::CREATE_SESSION, portal::create_session),
    ]
}

/// Every endpoint the stand-in serves, with the parameters it accepts.
pub fn endpoints() -> Vec<&'static Endpoint> {
    table().into_iter().map(|(endpoint, _)| endpoint).collect()
}

/// The full application. The API routes sit inside (inside out) idempotency, fault injection and
/// authentication; the hosted pages and `/_sim/` sit beside them without authentication; request
/// context and the access log wrap everything.
pub fn router(app: App) -> Router {
    let mut api = Router::new();
    for (endpoint, method_router) in table() {
        api = api.route(endpoint.path, method_router);
    }
    let api = api
        .fallback(http::unrecognized)
        .method_not_allowed_fallback(http::unrecognized)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::idempotency::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::faults::layer,
        ))
        .layer(axum::middleware::from_fn(http::authenticate));
    Router::new()
        .merge(crate::pages::routes())
        .merge(crate::faults::routes())
        .merge(api)
        .layer(axum::middleware::from_fn(http::context))
        .layer(axum::middleware::from_fn(http::access_log))
        .with_state(app)
}
