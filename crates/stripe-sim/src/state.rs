//! The one in-memory account: every object, the clock, idempotency keys and in-flight meter calls,
//! behind a single mutex that is never held across an `.await`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::UnboundedSender;

use crate::Config;
use crate::billing_cycle::BillingSettings;
use crate::clock::Clock;
use crate::delivery::{Delivery, DeliveryRecord};
use crate::events::Event;
use crate::faults::{ApiFaults, WebhookFaults};
use crate::idempotency::IdempotencyStore;
use crate::resources::checkout::CheckoutSession;
use crate::resources::customers::Customer;
use crate::resources::invoices::Invoice;
use crate::resources::meter_events::{IdentifierLog, MeterEvent};
use crate::resources::meters::Meter;
use crate::resources::payment_methods::PaymentMethod;
use crate::resources::portal::{PortalConfiguration, PortalSession};
use crate::resources::prices::Price;
use crate::resources::products::Product;
use crate::resources::subscriptions::Subscription;
use crate::resources::test_clocks::TestClock;
use crate::resources::webhook_endpoints::WebhookEndpoint;

/// Anything stored in a [`Table`]: it has a Stripe id.
pub trait Record {
    /// The object's id.
    fn id(&self) -> &str;
}

/// Objects of one kind in creation order, with lookup by id. Lists read it newest first.
#[derive(Debug)]
pub struct Table<T> {
    rows: Vec<Option<T>>,
    index: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            rows: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<T: Record> Table<T> {
    /// Adds an object (the newest).
    pub fn insert(&mut self, row: T) {
        self.index.insert(row.id().to_string(), self.rows.len());
        self.rows.push(Some(row));
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.index.get(id).and_then(|&i| self.rows[i].as_ref())
    }

    /// The object with this id, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let i = *self.index.get(id)?;
        self.rows[i].as_mut()
    }

    /// Removes and returns the object with this id.
    pub fn remove(&mut self, id: &str) -> Option<T> {
        let i = self.index.remove(id)?;
        self.rows[i].take()
    }

    /// The creation position of an id, the cursor for `starting_after`/`ending_before`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Objects with their positions, newest first.
    pub fn newest_first(&self) -> impl Iterator<Item = (usize, &T)> {
        self.rows
            .iter()
            .enumerate()
            .rev()
            .filter_map(|(i, row)| row.as_ref().map(|r| (i, r)))
    }

    /// Every object, to change, oldest first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.rows.iter_mut().filter_map(Option::as_mut)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// The whole simulated Stripe account.
#[derive(Debug)]
pub struct State {
    /// The account's clock (later: the default for customers without a test clock).
    pub clock: Clock,
    /// `cus_` objects.
    pub customers: Table<Customer>,
    /// `prod_` objects.
    pub products: Table<Product>,
    /// `price_` objects.
    pub prices: Table<Price>,
    /// `mtr_` objects.
    pub meters: Table<Meter>,
    /// Accepted meter events, oldest first.
    pub meter_events: Vec<MeterEvent>,
    /// Meter event identifiers and when they were accepted (unique for 24 hours).
    pub meter_identifiers: IdentifierLog,
    /// (customer, meter) pairs with a meter event call in flight.
    pub meter_calls_in_flight: HashSet<(String, String)>,
    /// `sub_` objects.
    pub subscriptions: Table<Subscription>,
    /// `we_` objects.
    pub webhook_endpoints: Table<WebhookEndpoint>,
    /// `evt_` objects.
    pub events: Table<Event>,
    /// Saved responses by `Idempotency-Key`.
    pub idempotency: IdempotencyStore,
    /// Where new events go to be delivered (absent when no delivery worker runs).
    pub outbox: Option<UnboundedSender<Delivery>>,
    /// `clock_` objects.
    pub test_clocks: Table<TestClock>,
    /// `pm_` objects (cards entered on the hosted pages).
    pub payment_methods: Table<PaymentMethod>,
    /// `in_` objects.
    pub invoices: Table<Invoice>,
    /// `cs_test_` objects.
    pub checkout_sessions: Table<CheckoutSession>,
    /// `bpc_` objects.
    pub portal_configurations: Table<PortalConfiguration>,
    /// `bps_` objects.
    pub portal_sessions: Table<PortalSession>,
    /// Grace period, retry schedule and the rule after the last failed payment.
    pub billing: BillingSettings,
    /// Faults injected into API calls (`/_sim/faults`).
    pub api_faults: ApiFaults,
    /// Faults injected into webhook delivery (`/_sim/webhooks`).
    pub webhook_faults: WebhookFaults,
    /// Every delivery attempt, oldest first (`GET /_sim/deliveries`).
    pub delivery_log: Vec<DeliveryRecord>,
    /// The stand-in's own base URL, for the hosted pages' links (`http://127.0.0.1:PORT`).
    pub base_url: String,
}

impl State {
    /// An empty account whose clock follows `config`.
    pub fn new(config: &Config, outbox: Option<UnboundedSender<Delivery>>) -> State {
        State {
            clock: Clock::new(config.start_time),
            customers: Table::default(),
            products: Table::default(),
            prices: Table::default(),
            meters: Table::default(),
            meter_events: Vec::new(),
            meter_identifiers: IdentifierLog::default(),
            meter_calls_in_flight: HashSet::new(),
            subscriptions: Table::default(),
            webhook_endpoints: Table::default(),
            events: Table::default(),
            idempotency: IdempotencyStore::default(),
            outbox,
            test_clocks: Table::default(),
            payment_methods: Table::default(),
            invoices: Table::default(),
            checkout_sessions: Table::default(),
            portal_configurations: Table::default(),
            portal_sessions: Table::default(),
            billing: config.billing.clone(),
            api_faults: ApiFaults::default(),
            webhook_faults: WebhookFaults::default(),
            delivery_log: Vec::new(),
            base_url: format!("http://127.0.0.1:{}", config.port),
        }
    }

    /// The account clock's current unix time: "now" for everything that is not on a test clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// "Now" on a test clock (its frozen time), or on the account clock for `None` or a clock
    /// that no longer exists.
    pub fn clock_now(&self, test_clock: Option<&str>) -> i64 {
        test_clock
            .and_then(|id| self.test_clocks.get(id))
            .map_or_else(|| self.now(), |clock| clock.frozen_time)
    }

    /// "Now" for a customer: its test clock's frozen time if it lives on one, else the account
    /// clock. Everything time-based about a customer's objects follows this.
    pub fn now_for(&self, customer: &str) -> i64 {
        self.now_for_at(customer, self.now())
    }

    /// The latest "now" of any customer: the account clock or a test clock frozen ahead of it.
    /// Nothing due after it is due for anyone, so loops skip those objects without a lookup.
    pub fn latest_now(&self, account_now: i64) -> i64 {
        self.test_clocks
            .newest_first()
            .map(|(_, clock)| clock.frozen_time)
            .fold(account_now, i64::max)
    }

    /// [`State::now_for`] with the account clock already read as `account_now`: loops over every
    /// customer read the system clock once, not once per customer.
    pub fn now_for_at(&self, customer: &str, account_now: i64) -> i64 {
        self.customers
            .get(customer)
            .and_then(|c| c.test_clock.as_deref())
            .and_then(|id| self.test_clocks.get(id))
            .map_or(account_now, |clock| clock.frozen_time)
    }
}

/// Everything a request handler needs: the shared state and the configuration.
#[derive(Clone)]
pub struct App {
    inner: Arc<AppInner>,
}

struct AppInner {
    state: Mutex<State>,
    config: Config,
}

impl App {
    /// Wraps a fresh state.
    pub fn new(config: Config, state: State) -> App {
        App {
            inner: Arc::new(AppInner {
                state: Mutex::new(state),
                config,
            }),
        }
    }

    /// Locks the account, first catching up with the clocks (periods that ended roll over and are
    /// invoiced, invoices finalize and are charged, checkout sessions expire). A
    /// handler that panicked cannot leave the state half-changed in ways that matter here, so a
    /// poisoned lock is simply taken over.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        crate::billing_cycle::catch_up(&mut state);
        state
    }

    /// The configuration the stand-in was started with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
}
