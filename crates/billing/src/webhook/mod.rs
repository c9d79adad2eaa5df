//! Stripe webhooks: the signature scheme and the typed events the product handles.


pub mod signature;


pub use signature::{SignatureError, SignatureVerifier, sign_header};
