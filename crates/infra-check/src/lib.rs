//! Checks `infra/template.yaml` against the functions' manifests
//! ([`billing_lambda::manifest`]), so that the template and the code cannot drift: a function
//! without its resource, a variable the code reads but the template does not set (or the other
//! way round), a route without its event or authorizer, a DynamoDB action the code performs but
//! the policy does not allow, or any grant broader than what the code performs.
//!
//! # Layout
//! - [`template`]: the YAML template into CloudFormation's JSON form (short-form tags resolved).
//! - [`check`]: the comparison, a pure function over a template and manifests returning every
//!   [`check::Problem`]; `tests/template_vs_code.rs` runs it on the real files and shows that it
//!   reports each kind of drift, removed from either side.

pub mod check;
pub mod template;

pub use check::{Problem, check};
pub use template::{Template, TemplateError};

/// The template's path, relative to the workspace root.
pub const TEMPLATE_PATH: &str = "infra/template.yaml";
