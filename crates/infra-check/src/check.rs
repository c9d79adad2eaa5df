//! The comparison of a template with the manifests: a pure function listing every difference.
//!
//! For each manifest there must be exactly one `AWS::Serverless::Function` whose
//! `Metadata.BuildProperties.Binary` is the package, built by cargo lambda from the workspace
//! (`CodeUri: ../`), `provided.al2023`, `arm64`, handler `bootstrap`; and no function resource
//! may lack a manifest. Then, per function:
//! - **environment** (`Globals` merged with the function's): every required variable set, no
//!   local-only one, no variable the code does not read; the table variables of the tables it
//!   uses are `!Ref` of a table resource, which is how the policy check knows which resource is
//!   which table; a secret's variable is `!Ref` of a parameter.
//! - **triggers**: each route an `HttpApi` event with that method and path and the right
//!   authorizer (a JWT authorizer of the API, or none and no default authorizer), the Cognito
//!   trigger wired to it with its invoke permission, the stream of the right table filtered on
//!   `INSERT`, the schedule; no event the manifest does not list.
//! - **policies**: only inline statements (a managed policy or a SAM policy template cannot be
//!   checked, so it is refused); every DynamoDB action of the manifest granted on exactly its
//!   table's or index's ARN; nothing else granted: no wildcard, no other action, no other
//!   resource; `secretsmanager:GetSecretValue` only on the manifest's secrets (each
//!   `...:secret:${Param}-??????`); `sqs:SendMessage` only on its own stream's on-failure queue.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use billing_lambda::manifest::{
    Auth, Deploy, DynamoAction, FunctionManifest, Route, Secret, Table, Trigger,
};
use serde_json::Value;

use crate::template::Template;

/// The ARN a secret's grant must use: the secret's name then Secrets Manager's random suffix.
pub const SECRET_ARN: &str =
    "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${PARAM}-??????";

/// One difference between the template and the code.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Problem {
    /// A manifest has no function resource building its binary.
    MissingFunction(String),
    /// A function resource builds a binary no manifest describes.
    UnknownFunction(String),
    /// Several resources build the same binary.
    DuplicateFunction(String),
    /// A build or runtime property is wrong.
    Build {
        /// The package.
        function: String,
        /// What is wrong.
        detail: String,
    },
    /// A required variable is not set.
    MissingEnv {
        /// The package.
        function: String,
        /// The variable.
        var: String,
    },
    /// A variable is set that the code never reads.
    UnknownEnv {
        /// The package.
        function: String,
        /// The variable.
        var: String,
    },
    /// A local-only variable (a plain secret, test clocks) is set.
    LocalOnlyEnv {
        /// The package.
        function: String,
        /// The variable.
        var: String,
    },
    /// A table or secret variable is not a `!Ref` of a resource or parameter.
    EnvNotRef {
        /// The package.
        function: String,
        /// The variable.
        var: String,
    },
    /// A route of the code has no event.
    MissingRoute {
        /// The package.
        function: String,
        /// `METHOD path`.
        route: String,
    },
    /// An event routes to the function a route the code does not serve.
    ExtraRoute {
        /// The package.
        function: String,
        /// `METHOD path`.
        route: String,
    },
    /// A route's authorizer is wrong.
    WrongAuth {
        /// The package.
        function: String,
        /// `METHOD path`.
        route: String,
        /// What is wrong.
        detail: String,
    },
    /// A non-HTTP trigger is missing or miswired.
    Trigger {
        /// The package.
        function: String,
        /// What is wrong.
        detail: String,
    },
    /// An action the code performs is not allowed.
    NotGranted {
        /// The package.
        function: String,
        /// `dynamodb:Action on table[/index/name]`.
        access: String,
    },
    /// An action is allowed that the code never performs.
    OverGranted {
        /// The package.
        function: String,
        /// `dynamodb:Action on table[/index/name]`.
        access: String,
    },
    /// A grant broader than any manifest entry can name: a wildcard, another service's action,
    /// an unknown resource, a managed policy.
    BroadGrant {
        /// The package.
        function: String,
        /// The action and resource, as written.
        grant: String,
    },
    /// A secret the code reads cannot be read.
    SecretNotGranted {
        /// The package.
        function: String,
        /// The secret's variable.
        secret: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingFunction(p) => write!(f, "{p}: no function resource builds it"),
            Problem::UnknownFunction(p) => write!(f, "{p}: function resource without a manifest"),
            Problem::DuplicateFunction(p) => write!(f, "{p}: built by several resources"),
            Problem::Build { function, detail } => write!(f, "{function}: {detail}"),
            Problem::MissingEnv { function, var } => write!(f, "{function}: {var} is not set"),
            Problem::UnknownEnv { function, var } => {
                write!(f, "{function}: {var} is set but the code never reads it")
            }
            Problem::LocalOnlyEnv { function, var } => {
                write!(
                    f,
                    "{function}: {var} is for local runs only and must not be set"
                )
            }
            Problem::EnvNotRef { function, var } => {
                write!(
                    f,
                    "{function}: {var} must be a !Ref of a resource or parameter"
                )
            }
            Problem::MissingRoute { function, route } => {
                write!(f, "{function}: route {route} has no HttpApi event")
            }
            Problem::ExtraRoute { function, route } => {
                write!(
                    f,
                    "{function}: event routes {route}, which the code does not serve"
                )
            }
            Problem::WrongAuth {
                function,
                route,
                detail,
            } => write!(f, "{function}: {route}: {detail}"),
            Problem::Trigger { function, detail } => write!(f, "{function}: {detail}"),
            Problem::NotGranted { function, access } => {
                write!(f, "{function}: {access} is performed but not allowed")
            }
            Problem::OverGranted { function, access } => {
                write!(f, "{function}: {access} is allowed but never performed")
            }
            Problem::BroadGrant { function, grant } => {
                write!(f, "{function}: broader grant than the code needs: {grant}")
            }
            Problem::SecretNotGranted { function, secret } => {
                write!(f, "{function}: the secret named by {secret} cannot be read")
            }
        }
    }
}

/// Every difference between `template` and `manifests`, sorted (empty when they agree).
pub fn check(template: &Template, manifests: &[FunctionManifest]) -> Vec<Problem> {
    let resources = template.resources();
    let globals = template.function_globals();
    let mut problems = Vec::new();

    let mut by_binary: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();
    for (id, resource) in &resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource
            .pointer("/Metadata/BuildProperties/Binary")
            .and_then(Value::as_str)
            .unwrap_or(id)
            .to_string();
        by_binary
            .entry(binary)
            .or_default()
            .push((id.clone(), resource.clone()));
    }
    let known: BTreeSet<&str> = manifests.iter().map(|m| m.package).collect();
    for binary in by_binary.keys() {
        if !known.contains(binary.as_str()) {
            problems.push(Problem::UnknownFunction(binary.clone()));
        }
    }
    for manifest in manifests {
        match by_binary.get(manifest.package).map(Vec::as_slice) {
            None | Some([]) => problems.push(Problem::MissingFunction(manifest.package.into())),
            Some([(id, resource)]) => {
                let function = Function {
                    manifest,
                    id,
                    resource,
                    globals: &globals,
                    resources: &resources,
                };
                function.check(&mut problems);
            }
            Some(_) => problems.push(Problem::DuplicateFunction(manifest.package.into())),
        }
    }
    problems.sort();
    problems.dedup();
    problems
}

struct Function<'a> {
    manifest: &'a FunctionManifest,
    id: &'a str,
    resource: &'a Value,
    globals: &'a Value,
    resources: &'a serde_json::Map<String, Value>,
}

impl Function<'_> {
    fn name(&self) -> String {
        self.manifest.package.to_string()
    }

    /// A property of the function, else of `Globals.Function`.
    fn property(&self, name: &str) -> Option<&Value> {
        self.resource
            .pointer(&format!("/Properties/{name}"))
            .or_else(|| self.globals.get(name))
    }

    fn check(&self, problems: &mut Vec<Problem>) {
        self.check_build(problems);
        let env = self.environment();
        self.check_env(&env, problems);
        self.check_triggers(problems);
        self.check_policies(&env, problems);
    }

    fn check_build(&self, problems: &mut Vec<Problem>) {
        let mut wrong = |detail: String| {
            problems.push(Problem::Build {
                function: self.name(),
                detail,
            })
        };
        let build_method = self.resource.pointer("/Metadata/BuildMethod");
        if build_method.and_then(Value::as_str) != Some("rust-cargolambda") {
            wrong(format!(
                "Metadata.BuildMethod is {build_method:?}, not rust-cargolambda"
            ));
        }
        let checks = [
            ("CodeUri", Value::from("../")),
            ("Runtime", Value::from("provided.al2023")),
            ("Architectures", serde_json::json!(["arm64"])),
            ("Handler", Value::from("bootstrap")),
        ];
        for (property, expected) in checks {
            let got = self.property(property);
            if got != Some(&expected) {
                wrong(format!("{property} is {got:?}, not {expected}"));
            }
        }
    }

    /// `Globals` variables overridden by the function's.
    fn environment(&self) -> BTreeMap<String, Value> {
        let mut env = BTreeMap::new();
        for source in [
            self.globals.pointer("/Environment/Variables"),
            self.resource.pointer("/Properties/Environment/Variables"),
        ] {
            if let Some(vars) = source.and_then(Value::as_object) {
                env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        env
    }

    fn check_env(&self, env: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
        for var in self.manifest.env_vars() {
            let set = env.contains_key(var.name);
            match var.deploy {
                Deploy::Required if !set => problems.push(Problem::MissingEnv {
                    function: self.name(),
                    var: var.name.into(),
                }),
                Deploy::LocalOnly if set => problems.push(Problem::LocalOnlyEnv {
                    function: self.name(),
                    var: var.name.into(),
                }),
                _ => {}
            }
        }
        for name in env.keys() {
            if self.manifest.env_var(name).is_none() {
                problems.push(Problem::UnknownEnv {
                    function: self.name(),
                    var: name.clone(),
                });
            }
        }
        let refs = self
            .manifest
            .tables
            .iter()
            .map(|t| t.table.env_var())
            .chain(self.manifest.secrets.iter().map(|s| s.env_var()));
        for var in refs {
            if let Some(value) = env.get(var)
                && reference(value).is_none()
            {
                problems.push(Problem::EnvNotRef {
                    function: self.name(),
                    var: var.into(),
                });
            }
        }
    }

    fn events(&self) -> Vec<(String, Value)> {
        self.resource
            .pointer("/Properties/Events")
            .and_then(Value::as_object)
            .map(|events| events.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    fn check_triggers(&self, problems: &mut Vec<Problem>) {
        let events = self.events();
        // HTTP routes, both ways.
        let mut served: BTreeMap<String, &Value> = BTreeMap::new();
        for (_, event) in &events {
            if event.get("Type").and_then(Value::as_str) == Some("HttpApi") {
                let props = &event["Properties"];
                let method = props["Method"].as_str().unwrap_or("ANY").to_uppercase();
                let path = props["Path"].as_str().unwrap_or("").to_string();
                served.insert(format!("{method} {path}"), props);
            }
        }
        let wanted: BTreeMap<String, &Route> = self
            .manifest
            .routes()
            .map(|r| (format!("{} {}", r.method.to_uppercase(), r.path), r))
            .collect();
        for (key, route) in &wanted {
            match served.get(key) {
                None => problems.push(Problem::MissingRoute {
                    function: self.name(),
                    route: key.clone(),
                }),
                Some(props) => {
                    if let Some(detail) = self.auth_problem(route.auth, props) {
                        problems.push(Problem::WrongAuth {
                            function: self.name(),
                            route: key.clone(),
                            detail,
                        });
                    }
                }
            }
        }
        for key in served.keys() {
            if !wanted.contains_key(key) {
                problems.push(Problem::ExtraRoute {
                    function: self.name(),
                    route: key.clone(),
                });
            }
        }
        // The other triggers.
        let mut trigger = |detail: String| {
            problems.push(Problem::Trigger {
                function: self.name(),
                detail,
            })
        };
        let count = |kind: &str| {
            events
                .iter()
                .filter(|(_, e)| e.get("Type").and_then(Value::as_str) == Some(kind))
                .count()
        };
        let wants = |t: fn(&Trigger) -> bool| self.manifest.triggers.iter().any(t);
        let post_confirmation = wants(|t| matches!(t, Trigger::CognitoPostConfirmation));
        let cognito_wired = self.cognito_trigger_wired();
        if post_confirmation && !cognito_wired {
            trigger("no user pool's PostConfirmation trigger (with its invoke permission)".into());
        }
        if !post_confirmation && self.wired_to_any_user_pool() {
            trigger("a user pool triggers it, but the code is not a Cognito trigger".into());
        }
        let stream_table = self.manifest.triggers.iter().find_map(|t| match t {
            Trigger::StreamInserts(table) => Some(*table),
            _ => None,
        });
        match stream_table {
            Some(table) => {
                if let Some(detail) = self.stream_problem(table, &events) {
                    trigger(detail);
                }
            }
            None if count("DynamoDB") > 0 => {
                trigger("a DynamoDB stream event the code does not handle".into())
            }
            None => {}
        }
        let schedule = wants(|t| matches!(t, Trigger::Schedule));
        match (schedule, count("Schedule") + count("ScheduleV2")) {
            (true, 0) => trigger("no Schedule event".into()),
            (false, n) if n > 0 => trigger("a Schedule event the code does not handle".into()),
            _ => {}
        }
        let handled = ["HttpApi", "DynamoDB", "Schedule", "ScheduleV2"];
        for (name, event) in &events {
            let kind = event.get("Type").and_then(Value::as_str).unwrap_or("?");
            if !handled.contains(&kind) {
                trigger(format!(
                    "event {name} of type {kind}, which the code does not handle"
                ));
            }
        }
    }

    fn auth_problem(&self, auth: Auth, props: &Value) -> Option<String> {
        let api = props.get("ApiId").and_then(reference);
        let Some(api) = api.and_then(|id| self.resources.get(&id)) else {
            return Some("ApiId is not a !Ref of the template's HTTP API".into());
        };
        let api_auth = api.pointer("/Properties/Auth");
        let default = api_auth
            .and_then(|a| a.get("DefaultAuthorizer"))
            .and_then(Value::as_str);
        let named = props.pointer("/Auth/Authorizer").and_then(Value::as_str);
        let effective = match named {
            Some("NONE") => None,
            Some(name) => Some(name),
            None => default,
        };
        match (auth, effective) {
            (Auth::None, None) => None,
            (Auth::None, Some(name)) => {
                Some(format!("has authorizer {name}, the code expects none"))
            }
            (Auth::Jwt, None) => Some("no authorizer; the code reads verified JWT claims".into()),
            (Auth::Jwt, Some(name)) => {
                let jwt = api_auth
                    .and_then(|a| a.pointer(&format!("/Authorizers/{name}/JwtConfiguration")));
                let has_issuer = jwt.and_then(|j| j.get("issuer")).is_some();
                let has_audience = jwt.and_then(|j| j.get("audience")).is_some();
                (!(has_issuer && has_audience)).then(|| {
                    format!("authorizer {name} is not a JWT authorizer with issuer and audience")
                })
            }
        }
    }

    fn cognito_trigger_wired(&self) -> bool {
        let pool_wired = self.resources.values().any(|r| {
            r.get("Type").and_then(Value::as_str) == Some("AWS::Cognito::UserPool")
                && r.pointer("/Properties/LambdaConfig/PostConfirmation")
                    .and_then(get_att)
                    .is_some_and(|(res, att)| res == self.id && att == "Arn")
        });
        let permitted = self.resources.values().any(|r| {
            r.get("Type").and_then(Value::as_str) == Some("AWS::Lambda::Permission")
                && r.pointer("/Properties/Principal").and_then(Value::as_str)
                    == Some("cognito-idp.amazonaws.com")
                && r.pointer("/Properties/FunctionName")
                    .and_then(|v| get_att(v).map(|(res, _)| res).or_else(|| reference(v)))
                    .is_some_and(|res| res == self.id)
        });
        pool_wired && permitted
    }

    fn wired_to_any_user_pool(&self) -> bool {
        self.resources.values().any(|r| {
            r.get("Type").and_then(Value::as_str) == Some("AWS::Cognito::UserPool")
                && r.pointer("/Properties/LambdaConfig")
                    .and_then(Value::as_object)
                    .is_some_and(|config| {
                        config
                            .values()
                            .any(|v| get_att(v).is_some_and(|(res, _)| res == self.id))
                    })
        })
    }

    fn stream_problem(&self, table: Table, events: &[(String, Value)]) -> Option<String> {
        let env = self.environment();
        let Some(resource) = env.get(table.env_var()).and_then(reference) else {
            return Some(format!(
                "{} does not name the streamed table's resource",
                table.env_var()
            ));
        };
        let stream = events.iter().find(|(_, e)| {
            e.get("Type").and_then(Value::as_str) == Some("DynamoDB")
                && e.pointer("/Properties/Stream")
                    .and_then(get_att)
                    .is_some_and(|(res, att)| res == resource && att == "StreamArn")
        });
        let Some((_, stream)) = stream else {
            return Some(format!("no DynamoDB event on {resource}.StreamArn"));
        };
        let filters = stream
            .pointer("/Properties/FilterCriteria/Filters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let inserts_only = filters.len() == 1
            && filters[0]["Pattern"]
                .as_str()
                .and_then(|p| serde_json::from_str::<Value>(p).ok())
                == Some(serde_json::json!({"eventName": ["INSERT"]}));
        if !inserts_only {
            return Some("the stream event is not filtered on INSERT only".into());
        }
        let types = stream.pointer("/Properties/FunctionResponseTypes");
        if types != Some(&serde_json::json!(["ReportBatchItemFailures"])) {
            return Some("the stream event does not report batch item failures".into());
        }
        None
    }

    /// The on-failure queue of the function's stream event, if any.
    fn failure_queue(&self) -> Option<String> {
        self.events().iter().find_map(|(_, e)| {
            e.pointer("/Properties/DestinationConfig/OnFailure/Destination")
                .and_then(get_att)
                .map(|(res, _)| res)
        })
    }

    fn check_policies(&self, env: &BTreeMap<String, Value>, problems: &mut Vec<Problem>) {
        let name = self.name();
        // Which table resource is which table, from the function's own variables.
        let table_of: BTreeMap<String, Table> = Table::ALL
            .into_iter()
            .filter_map(|t| Some((env.get(t.env_var()).and_then(reference)?, t)))
            .collect();
        let secret_params: BTreeMap<String, Secret> = self
            .manifest
            .secrets
            .iter()
            .filter_map(|s| Some((env.get(s.env_var()).and_then(reference)?, *s)))
            .collect();
        let queue = self.failure_queue();

        let mut granted: BTreeSet<(Table, Option<String>, DynamoAction)> = BTreeSet::new();
        let mut secrets_granted: BTreeSet<String> = BTreeSet::new();
        let mut broad = |grant: String| {
            problems.push(Problem::BroadGrant {
                function: name.clone(),
                grant,
            })
        };
        let policies = self
            .property("Policies")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        let policies = match policies {
            Value::Array(list) => list,
            other => vec![other],
        };
        for policy in &policies {
            let Some(statements) = policy.get("Statement").and_then(Value::as_array) else {
                broad(format!(
                    "policy {policy} (only inline statements can be checked)"
                ));
                continue;
            };
            for statement in statements {
                if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                if statement.get("NotAction").is_some() || statement.get("NotResource").is_some() {
                    broad(format!("statement with NotAction/NotResource: {statement}"));
                    continue;
                }
                for action in one_or_many(statement.get("Action")) {
                    let action_text = action.as_str().unwrap_or("?").to_string();
                    for resource in one_or_many(statement.get("Resource")) {
                        let grant = format!("{action_text} on {resource}");
                        if let Some(dynamo) = action_text.strip_prefix("dynamodb:") {
                            let Some(dynamo) = DynamoAction::named(dynamo) else {
                                broad(grant);
                                continue;
                            };
                            match table_arn(resource, &table_of) {
                                Some((table, index)) => {
                                    granted.insert((table, index, dynamo));
                                }
                                None => broad(grant),
                            }
                        } else if action_text == "secretsmanager:GetSecretValue" {
                            match secret_arn(resource) {
                                Some(param) if secret_params.contains_key(&param) => {
                                    secrets_granted.insert(param);
                                }
                                _ => broad(grant),
                            }
                        } else if action_text == "sqs:SendMessage" {
                            let to_own_queue = get_att(resource).is_some_and(|(res, att)| {
                                Some(&res) == queue.as_ref() && att == "Arn"
                            });
                            if !to_own_queue {
                                broad(grant);
                            }
                        } else {
                            broad(grant);
                        }
                    }
                }
            }
        }

        let needed: BTreeSet<(Table, Option<String>, DynamoAction)> = self
            .manifest
            .tables
            .iter()
            .flat_map(|t| {
                t.actions
                    .iter()
                    .map(move |a| (t.table, t.index.map(str::to_string), *a))
            })
            .collect();
        let describe = |(table, index, action): &(Table, Option<String>, DynamoAction)| {
            let on = match index {
                Some(index) => format!("{table:?}/index/{index}"),
                None => format!("{table:?}"),
            };
            format!("dynamodb:{} on {on}", action.name())
        };
        for access in needed.difference(&granted) {
            problems.push(Problem::NotGranted {
                function: self.name(),
                access: describe(access),
            });
        }
        for access in granted.difference(&needed) {
            problems.push(Problem::OverGranted {
                function: self.name(),
                access: describe(access),
            });
        }
        for secret in self.manifest.secrets {
            let param = env.get(secret.env_var()).and_then(reference);
            if !param.is_some_and(|p| secrets_granted.contains(&p)) {
                problems.push(Problem::SecretNotGranted {
                    function: self.name(),
                    secret: secret.env_var().into(),
                });
            }
        }
    }
}

/// `X` of `{"Ref": "X"}`.
fn reference(value: &Value) -> Option<String> {
    value.get("Ref").and_then(Value::as_str).map(str::to_string)
}

/// `(A, B)` of `{"Fn::GetAtt": "A.B"}` or `{"Fn::GetAtt": ["A", "B"]}`.
fn get_att(value: &Value) -> Option<(String, String)> {
    match value.get("Fn::GetAtt")? {
        Value::String(text) => {
            let (res, att) = text.split_once('.')?;
            Some((res.into(), att.into()))
        }
        Value::Array(parts) => match parts.as_slice() {
            [Value::String(res), Value::String(att)] => Some((res.clone(), att.clone())),
            _ => None,
        },
        _ => None,
    }
}

fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

/// The table (and index) a DynamoDB grant's resource names exactly: `!GetAtt T.Arn` or
/// `!Sub ${T.Arn}/index/name`; anything else (a wildcard, `index/*`, a literal ARN) is `None`.
fn table_arn(
    resource: &Value,
    table_of: &BTreeMap<String, Table>,
) -> Option<(Table, Option<String>)> {
    if let Some((res, att)) = get_att(resource) {
        return (att == "Arn").then(|| table_of.get(&res).map(|t| (*t, None)))?;
    }
    let text = resource.get("Fn::Sub")?.as_str()?;
    let rest = text.strip_prefix("${")?;
    let (res, rest) = rest.split_once(".Arn}/index/")?;
    let index_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !index_ok {
        return None;
    }
    table_of.get(res).map(|t| (*t, Some(rest.to_string())))
}

/// The parameter of a grant on exactly one secret, written as [`SECRET_ARN`].
fn secret_arn(resource: &Value) -> Option<String> {
    let text = resource.get("Fn::Sub")?.as_str()?;
    let (head, tail) = SECRET_ARN.split_once("${PARAM}")?;
    let param = text.strip_prefix(head)?.strip_suffix(tail)?;
    let param = param.strip_prefix("${")?.strip_suffix('}')?;
    (!param.is_empty() && param.chars().all(|c| c.is_ascii_alphanumeric())).then(|| param.into())
}
