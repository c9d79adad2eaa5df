//! Stripe webhooks: the signature scheme and the typed events the product handles.

pub mod event;
pub mod signature;

pub use event::{
    BillingEvent, CheckoutCompleted, EventParseError, HANDLED_TYPES, InvoiceRef, StripeEvent,
    SubscriptionRef,
};
pub use signature::{SignatureError, SignatureVerifier, sign_header};
