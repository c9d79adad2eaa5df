//! Use cases, one per module, over the ports: they never see a concrete client.

pub mod onboarding;
pub mod recording;
pub mod subscription_view;
pub mod usage_reporting;
pub mod webhook;

#[cfg(test)]
pub(crate) mod fakes;
