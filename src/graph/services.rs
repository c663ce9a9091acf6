//! Outside services: where SDK clients are made, the analytics events a
//! program tracks, and the HTTP calls it makes to other services.
//!
//! A call belongs to an SDK when its function is one of the SDK's
//! module-level functions (`posthog.capture`, `requests.get`) or a method
//! called on an instance of one of its classes (`Mixpanel(token).track`,
//! `httpx.AsyncClient().get`). Instances are followed through variables,
//! imports, `with ... as`, `self.x` attributes, annotated parameters and
//! first-party functions that return one.
//!
//! Real code rarely calls the SDK at the place that decides the event: a
//! helper such as `track_event(user_id, event, **props)` wraps the call.
//! When the event name (or URL) passed to the SDK is a parameter of the
//! enclosing function, every call of that function is followed instead,
//! wrappers of wrappers included, so the event names are read where they
//! are written.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use super::calls::{bound_name, last_name, param_of, self_attr_values};
use super::values::StrValue;
use super::wrappers::{Wrappers, param_passed};
use super::{Program, Target, tables};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, ScopeKind, Stmt};

/// Everything known about the outside services a program talks to.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct ServicesMap {
    /// Where clients of outside services are created or configured.
    pub sdk_clients: Vec<SdkClient>,
    /// Analytics events, one entry per call site that names one.
    pub events: Vec<AnalyticsEvent>,
    /// Outgoing HTTP requests.
    pub http_calls: Vec<HttpCall>,
}

/// A client of an outside service, created or configured.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SdkClient {
    /// The package as grouped in `third_party` (`mixpanel`, `boto3`).
    pub package: String,
    /// What the package is for (`analytics`, `monitoring`, `llm`, ...).
    pub category: String,
    /// The function or class called, as imported: `mixpanel.Mixpanel`,
    /// `sentry_sdk.init`; for a module configured by assignment, the
    /// attribute set (`stripe.api_key`).
    pub constructor: String,
    /// The arguments, as written; for an assignment, the value.
    pub arguments: String,
    /// `call`, or `assignment` for `package.setting = value`.
    pub form: SetupForm,
    /// The name it is bound to (`analytics_client`, `self.client`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// `module:qualname` of the enclosing function; absent at module level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    pub file: String,
    pub line: u32,
    /// Functions that call methods on this client (`module:qualname`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used_by: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetupForm {
    Call,
    Assignment,
}

/// One place an analytics event is tracked.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalyticsEvent {
    /// The event name; a pattern or dynamic when built at run time.
    pub event: StrValue,
    /// The SDK package (`mixpanel`, `posthog`, `segment`).
    pub package: String,
    /// The SDK method: `track`, `capture`.
    pub method: String,
    /// Who the event is about (the distinct or user id), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Property names, when they are written out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<String>,
    /// `module:qualname` of the function the call is in; `module:<module>`
    /// at module level.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// The first-party wrappers the call goes through, outermost first,
    /// ending at the SDK call (`module:qualname` at `file:line`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// One outgoing HTTP request.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HttpCall {
    /// Upper-case HTTP method; `REQUEST` when chosen at run time.
    pub method: String,
    /// The URL, with a client's `base_url` in front when it has one.
    pub url: StrValue,
    /// `scheme://host[:port]` when the URL names it literally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The client library: `httpx`, `requests`, `aiohttp`, `urllib`.
    pub client: String,
    pub function: String,
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<String>,
}

/// Categories whose packages talk to a service outside the process.
const SERVICE_CATEGORIES: [&str; 9] = [
    "analytics",
    "monitoring",
    "llm",
    "cloud",
    "payments",
    "email-sms",
    "http-client",
    "messaging",
    "auth",
];

/// Lower-case names that make or configure a client.
const SETUP_FUNCTIONS: [&str; 11] = [
    "init",
    "build",
    "configure",
    "client",
    "resource",
    "setup",
    "initialize",
    "from_env",
    "from_url",
    "connect",
    "create_client",
];

/// Words a client class's name contains (`WebClient`, `AsyncSession`,
/// `StripeClient`, `KafkaProducer`, `Tracker`).
const CLIENT_WORDS: [&str; 9] = [
    "Client",
    "Session",
    "Connection",
    "Api",
    "API",
    "Service",
    "Tracker",
    "Producer",
    "Consumer",
];

/// Whether a class (last name `last`) of the package `key` builds a client:
/// its name says so, or it is the package's own name (`mixpanel.Mixpanel`,
/// `openai.OpenAI`, `anthropic.AsyncAnthropic`). Data classes of the same
/// packages (`PromptTemplate`, `TrainingArguments`, `BaseEvent`) are not.
fn names_a_client(last: &str, key: &str) -> bool {
    if !last.starts_with(char::is_uppercase) {
        return false;
    }
    let bare = last.strip_prefix("Async").unwrap_or(last);
    // `ConnectionConfig`, `ClientError`, `SessionOptions`: about a client,
    // not one.
    if [
        "Config",
        "Settings",
        "Options",
        "Error",
        "Exception",
        "Timeout",
    ]
    .iter()
    .any(|s| bare.ends_with(s))
    {
        return false;
    }
    let package = key.rsplit('.').next().unwrap_or(key).replace('_', "");
    CLIENT_WORDS.iter().any(|w| bare.contains(w)) || bare.eq_ignore_ascii_case(&package)
}

/// How an SDK names what an analytics call tracks.
#[derive(Debug, Clone, Copy)]
enum EventArg {
    /// Positional argument `n` or keyword `name`.
    At(usize, &'static str),
    /// PostHog: `capture(distinct_id, event)` before 6.0,
    /// `capture(event, distinct_id=...)` since.
    PostHog,
    /// Amplitude: `track(BaseEvent(event_type=..., user_id=...))`.
    AmplitudeEvent,
}

/// One tracking method of one analytics SDK.
struct EventApi {
    package: &'static str,
    /// Module-level functions (`posthog.capture`), or classes whose
    /// instances have `method` (`mixpanel.Mixpanel`).
    owners: &'static [&'static str],
    method: &'static str,
    event: EventArg,
    subject: Option<(usize, &'static str)>,
    properties: Option<(usize, &'static str)>,
}

const EVENT_APIS: [EventApi; 6] = [
    EventApi {
        package: "mixpanel",
        owners: &["mixpanel.Mixpanel"],
        method: "track",
        event: EventArg::At(1, "event_name"),
        subject: Some((0, "distinct_id")),
        properties: Some((2, "properties")),
    },
    EventApi {
        package: "posthog",
        owners: &["posthog", "posthog.Posthog", "posthog.Client"],
        method: "capture",
        event: EventArg::PostHog,
        subject: None,
        properties: Some((2, "properties")),
    },
    EventApi {
        package: "segment",
        owners: &[
            "analytics",
            "segment.analytics",
            "analytics.Client",
            "segment.analytics.Client",
        ],
        method: "track",
        event: EventArg::At(1, "event"),
        subject: Some((0, "user_id")),
        properties: Some((2, "properties")),
    },
    EventApi {
        package: "rudderstack",
        owners: &["rudderstack.analytics", "rudder_analytics"],
        method: "track",
        event: EventArg::At(1, "event"),
        subject: Some((0, "user_id")),
        properties: Some((2, "properties")),
    },
    EventApi {
        package: "amplitude",
        owners: &["amplitude.Amplitude"],
        method: "track",
        event: EventArg::AmplitudeEvent,
        subject: None,
        properties: None,
    },
    EventApi {
        package: "snowplow_tracker",
        owners: &["snowplow_tracker.Tracker"],
        method: "track_struct_event",
        event: EventArg::At(1, "action"),
        subject: None,
        properties: None,
    },
];

const HTTP_METHODS: [&str; 9] = [
    "get", "post", "put", "patch", "delete", "head", "options", "request", "stream",
];

/// HTTP client libraries: module-level request functions and the classes
/// whose instances send requests.
const HTTP_CLIENTS: [(&str, &[&str], &[&str]); 4] = [
    ("httpx", &["httpx"], &["httpx.Client", "httpx.AsyncClient"]),
    (
        "requests",
        &["requests", "requests.api"],
        &[
            "requests.Session",
            "requests.sessions.Session",
            "requests.session",
        ],
    ),
    ("aiohttp", &[], &["aiohttp.ClientSession"]),
    ("urllib", &["urllib.request"], &[]),
];

/// How deep wrappers of wrappers are followed.
const MAX_DEPTH: u32 = 12;

/// Builds the services map of a program.
pub fn services_map(program: &Program) -> ServicesMap {
    let cx = Cx {
        p: program,
        returns: RefCell::new(HashMap::new()),
        wrappers: Wrappers::new(program),
    };
    let mut map = ServicesMap::default();
    let mut client_sites: HashMap<(usize, u32), usize> = HashMap::new();
    for c in cx.sdk_clients() {
        if let Some(f) = program.file(&c.file) {
            client_sites.insert((f, c.line), map.sdk_clients.len());
        }
        map.sdk_clients.push(c);
    }
    // The names clients are kept under (`s3`, `self.client`): a call on
    // anything else cannot be a use of one, which spares resolving it.
    let client_names: HashSet<&str> = map
        .sdk_clients
        .iter()
        .filter_map(|c| c.variable.as_deref())
        .map(|v| v.rsplit('.').next().unwrap_or(v))
        .collect();
    let mut used_by: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                if let Some(i) = cx.client_used(file, si, &call.func, &client_names, &client_sites)
                {
                    used_by
                        .entry(i)
                        .or_default()
                        .push(cx.function_ref(file, si));
                }
                let site = cx.sdk_call(file, si, call);
                if let Some(api) = site.event_api {
                    cx.event(file, si, call, api, &mut map.events);
                }
                if let Some((client, base)) = site.http {
                    cx.http(file, si, call, client, base, &mut map.http_calls);
                }
            }
        }
    }
    for (i, mut users) in used_by {
        users.sort();
        users.dedup();
        map.sdk_clients[i].used_by = users;
    }
    map.events.sort_by(|a, b| {
        (&a.file, a.line, &a.via, a.event.text()).cmp(&(&b.file, b.line, &b.via, b.event.text()))
    });
    map.events.dedup_by(|a, b| {
        a.file == b.file && a.line == b.line && a.via == b.via && a.event == b.event
    });
    map.http_calls
        .sort_by(|a, b| (&a.file, a.line, &a.via).cmp(&(&b.file, b.line, &b.via)));
    map.http_calls
        .dedup_by(|a, b| a.file == b.file && a.line == b.line && a.via == b.via);
    map
}

/// An instance of an outside class: what made it, and where.
#[derive(Debug, Clone)]
struct Instance {
    /// The qualified constructor (`httpx.AsyncClient`).
    ctor: String,
    /// (file, line) of the creation, when it is in the analysed code.
    created: Option<(usize, u32)>,
    /// The creation call's `base_url=`, folded.
    base_url: Option<StrValue>,
}

/// What one call is, as far as outside services go.
#[derive(Default)]
struct SdkCall {
    /// The instance the method is called on.
    instance: Option<(Instance, String)>,
    event_api: Option<&'static EventApi>,
    /// The HTTP client library, and a `base_url` to put in front.
    http: Option<(&'static str, Option<StrValue>)>,
}

struct Cx<'p> {
    p: &'p Program,
    /// What each first-party function returns, when that is an instance
    /// of an outside class; `None` while being computed and for the rest.
    returns: RefCell<HashMap<(usize, u32), Option<Instance>>>,
    /// The calls of the program, to follow an event or URL out through
    /// the wrappers that pass it on.
    wrappers: Wrappers<'p>,
}

impl<'p> Cx<'p> {
    fn function_ref(&self, file: usize, scope: u32) -> String {
        if scope == 0 {
            let m = self.p.files[file]
                .module
                .as_ref()
                .map_or("", |m| m.name.as_str());
            format!("{m}:<module>")
        } else {
            self.p.def_ref(file, scope)
        }
    }

    // ----- clients -----

    fn sdk_clients(&self) -> Vec<SdkClient> {
        let mut out = Vec::new();
        for (file, rec, facts) in self.p.analyzed() {
            if !facts.imports.iter().any(|i| {
                i.level == 0 && !tables::is_stdlib(i.module.split('.').next().unwrap_or(""))
            }) {
                continue;
            }
            for (si, sc) in facts.scopes.iter().enumerate() {
                let si = si as u32;
                for st in &sc.stmts {
                    if let Stmt::Assign {
                        line,
                        targets,
                        value: Some(value),
                        augmented: false,
                        ..
                    } = st
                        && let Some(setting) = self.module_setting(file, si, targets)
                    {
                        out.push(SdkClient {
                            category: setting.1.to_string(),
                            package: setting.0,
                            constructor: setting.2,
                            arguments: render_expr(value),
                            form: SetupForm::Assignment,
                            variable: None,
                            function: (si != 0).then(|| self.p.def_ref(file, si)),
                            file: rec.path.clone(),
                            line: *line,
                            used_by: Vec::new(),
                        });
                        continue;
                    }
                    let Stmt::Call { call, .. } = st else {
                        continue;
                    };
                    let Some(last) = last_name(&call.func) else {
                        continue;
                    };
                    if !(SETUP_FUNCTIONS.contains(&last) || last.starts_with(char::is_uppercase)) {
                        continue;
                    }
                    let Target::External(q) = self.p.resolve(file, si, &call.func) else {
                        continue;
                    };
                    let key = tables::package_key(&q);
                    if !(SETUP_FUNCTIONS.contains(&last) || names_a_client(last, &key)) {
                        continue;
                    }
                    // A catalogued service package, or any outside package
                    // whose class says it is a client (`notion_client`,
                    // `composio`).
                    let category = match service_package(&key) {
                        Some(c) => c,
                        None if tables::is_stdlib(key.split('.').next().unwrap_or(""))
                            || !names_a_client(last, &key) =>
                        {
                            continue;
                        }
                        None => tables::package_info(&key).map_or("other", |i| i.category),
                    };
                    // Celery apps have a section of their own; frameworks and
                    // data libraries are not services.
                    if matches!(
                        category,
                        "web" | "validation" | "testing" | "data" | "logging" | "task-queue"
                    ) {
                        continue;
                    }
                    let variable = bound_name(&sc.stmts, call);
                    // A value built in passing (`httpx.Timeout(5)`) is not a
                    // client; one kept in a name or set up at import is.
                    let kept = variable.is_some()
                        || SETUP_FUNCTIONS.contains(&last)
                        || returned(&sc.stmts, call);
                    if !kept {
                        continue;
                    }
                    out.push(SdkClient {
                        package: key,
                        category: category.to_string(),
                        constructor: q,
                        arguments: arguments_text(call),
                        form: SetupForm::Call,
                        variable,
                        function: (si != 0).then(|| self.p.def_ref(file, si)),
                        file: rec.path.clone(),
                        line: call.line,
                        used_by: Vec::new(),
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            (&a.file, a.line, &a.constructor).cmp(&(&b.file, b.line, &b.constructor))
        });
        out.dedup_by(|a, b| a.file == b.file && a.line == b.line && a.constructor == b.constructor);
        out
    }

    /// `stripe.api_key = ...`: a service package configured by setting a
    /// module attribute. The package key, its category and the attribute.
    fn module_setting(
        &self,
        file: usize,
        scope: u32,
        targets: &[Expr],
    ) -> Option<(String, &'static str, String)> {
        // `stripe.api_key = ...`; a class put in place (`mod.Block = Patched`)
        // is a monkeypatch, not configuration.
        let [Expr::Attr(base, attr)] = targets else {
            return None;
        };
        if attr.starts_with(char::is_uppercase) {
            return None;
        }
        if !matches!(**base, Expr::Name(_) | Expr::Attr(..)) {
            return None;
        }
        let Target::External(module) = self.p.resolve(file, scope, base) else {
            return None;
        };
        let key = tables::package_key(&module);
        let category = service_package(&key)?;
        let target = self.p.qualify(file, scope, &targets[0])?;
        Some((key, category, target))
    }

    /// The outside instance `expr` holds, when that can be seen.
    fn instance(&self, file: usize, scope: u32, expr: &Expr, depth: u32) -> Option<Instance> {
        if depth > MAX_DEPTH {
            return None;
        }
        let d = depth + 1;
        match expr {
            Expr::Await(e) => self.instance(file, scope, e, d),
            Expr::Call(c) => match self.p.resolve(file, scope, &c.func) {
                Target::External(q) => Some(Instance {
                    ctor: q,
                    created: Some((file, c.line)),
                    base_url: c.kwarg("base_url").map(|b| self.p.eval_str(file, scope, b)),
                }),
                Target::Def { file: f, scope: s }
                    if self.p.scope(f, s)?.kind == ScopeKind::Function =>
                {
                    self.returned_instance(f, s, d)
                }
                _ => None,
            },
            Expr::Name(_) | Expr::Attr(..) => match self.p.resolve(file, scope, expr) {
                Target::Value {
                    file: f,
                    scope: s,
                    value,
                    ..
                } => self.instance(f, s, value, d),
                Target::Unknown => match expr {
                    Expr::Name(n) => {
                        let (fs, param) = param_of(self.p, file, scope, n)?;
                        let outer = self.p.scope(file, fs)?.parent.unwrap_or(0);
                        let ann = param.annotation.as_ref()?;
                        let ann = match ann {
                            Expr::Subscript(_, items) => items.first()?,
                            a => a,
                        };
                        match self.p.resolve(file, outer, ann) {
                            Target::External(q) => Some(Instance {
                                ctor: q,
                                created: None,
                                base_url: None,
                            }),
                            _ => None,
                        }
                    }
                    Expr::Attr(base, attr) => self.self_attr(file, scope, base, attr, d),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }

    /// What a first-party function returns, when it hands out an outside
    /// instance (`def get_client(): return Mixpanel(token)`).
    fn returned_instance(&self, file: usize, scope: u32, d: u32) -> Option<Instance> {
        if let Some(found) = self.returns.borrow().get(&(file, scope)) {
            return found.clone();
        }
        self.returns.borrow_mut().insert((file, scope), None);
        let sc = self.p.scope(file, scope)?;
        let found = sc
            .stmts
            .iter()
            .filter_map(|st| match st {
                Stmt::Return { value: Some(v), .. } => Some(v),
                _ => None,
            })
            .chain(sc.yielded.iter())
            .find_map(|v| self.instance(file, scope, v, d + 1));
        self.returns
            .borrow_mut()
            .insert((file, scope), found.clone());
        found
    }

    /// `self.client` in a method, where a method of the class assigns it.
    fn self_attr(
        &self,
        file: usize,
        scope: u32,
        base: &Expr,
        attr: &str,
        d: u32,
    ) -> Option<Instance> {
        self_attr_values(self.p, file, scope, base, attr)
            .into_iter()
            .find_map(|(f, s, v)| self.instance(f, s, v, d))
    }

    // ----- calls -----

    /// The client (index into `sites`) a call is made on, when its
    /// receiver chain goes through a name a client is kept under:
    /// `s3.put_object(...)`, `self.http.post(...)`,
    /// `client.chat.completions.create(...)`.
    fn client_used(
        &self,
        file: usize,
        scope: u32,
        func: &Expr,
        names: &HashSet<&str>,
        sites: &HashMap<(usize, u32), usize>,
    ) -> Option<usize> {
        if names.is_empty() {
            return None;
        }
        let Expr::Attr(recv, _) = func else {
            return None;
        };
        // The chain from the root outward: `client`, `client.chat`, ...
        let mut chain = vec![recv.as_ref()];
        while let Some(Expr::Attr(inner, _)) = chain.last() {
            chain.push(inner.as_ref());
        }
        chain.into_iter().rev().find_map(|e| {
            let last = match e {
                Expr::Name(n) => n.as_str(),
                Expr::Attr(_, n) => n.as_str(),
                _ => return None,
            };
            if !names.contains(last) {
                return None;
            }
            let created = self.instance(file, scope, e, 0)?.created?;
            sites.get(&created).copied()
        })
    }

    /// Classifies one call.
    fn sdk_call(&self, file: usize, scope: u32, call: &Call) -> SdkCall {
        let mut out = SdkCall::default();
        let Some(method) = last_name(&call.func) else {
            return out;
        };
        let event_method = EVENT_APIS.iter().any(|a| a.method == method);
        let http_method = HTTP_METHODS.contains(&method) || method == "urlopen";
        if !event_method && !http_method {
            return out;
        }
        // A module-level function: `posthog.capture(...)`, `requests.get(...)`.
        if let Target::External(q) = self.p.resolve(file, scope, &call.func)
            && let Some((owner, _)) = q.rsplit_once('.')
        {
            if event_method {
                out.event_api = EVENT_APIS
                    .iter()
                    .find(|a| a.method == method && a.owners.contains(&owner));
            }
            if http_method {
                out.http = HTTP_CLIENTS
                    .iter()
                    .find(|(_, modules, _)| modules.contains(&owner))
                    .map(|(name, _, _)| (*name, None));
            }
            return out;
        }
        let Expr::Attr(recv, _) = &call.func else {
            return out;
        };
        let Some(inst) = self.instance(file, scope, recv, 0) else {
            return out;
        };
        if event_method {
            out.event_api = EVENT_APIS
                .iter()
                .find(|a| a.method == method && a.owners.contains(&inst.ctor.as_str()));
        }
        if http_method {
            out.http = HTTP_CLIENTS
                .iter()
                .find(|(_, _, classes)| classes.contains(&inst.ctor.as_str()))
                .map(|(name, _, _)| (*name, inst.base_url.clone()));
        }
        out.instance = Some((inst, method.to_string()));
        out
    }

    fn event(
        &self,
        file: usize,
        scope: u32,
        call: &Arc<Call>,
        api: &EventApi,
        out: &mut Vec<AnalyticsEvent>,
    ) {
        let event_expr = match api.event {
            EventArg::At(i, name) => call.arg(i, name),
            EventArg::PostHog => call.kwarg("event").or_else(|| {
                if positional(call) >= 2 {
                    call.args.get(1)
                } else {
                    call.args.first()
                }
            }),
            EventArg::AmplitudeEvent => match call.arg(0, "event") {
                Some(Expr::Call(e)) => e.arg(0, "event_type"),
                other => other,
            },
        };
        let subject_expr = match api.event {
            EventArg::PostHog => call
                .kwarg("distinct_id")
                .or_else(|| (positional(call) >= 2).then(|| &call.args[0])),
            EventArg::AmplitudeEvent => match call.arg(0, "event") {
                Some(Expr::Call(e)) => e.kwarg("user_id"),
                _ => None,
            },
            EventArg::At(..) => api.subject.and_then(|(i, n)| call.arg(i, n)),
        };
        let props_expr = api.properties.and_then(|(i, n)| call.arg(i, n));
        let here = |e: Option<&Expr>| e.map(|e| (file, scope, e.clone()));
        let args = vec![here(event_expr), here(subject_expr), here(props_expr)];
        for site in self.wrappers.follow(file, scope, Arc::clone(call), args, 0) {
            // A name set on several branches, a loop over literal names,
            // `"a" if ok else "b"`: one event per name.
            let events: Vec<StrValue> = match &site.args[0] {
                Some((f, s, e)) => match (
                    param_passed(self.p, *f, *s, e),
                    self.p.alternatives(*f, *s, e),
                ) {
                    (Some((ws, _)), _) => vec![StrValue::Dynamic {
                        reason: format!(
                            "parameter `{}` of `{}`, which nothing in the analysed code calls",
                            render_expr(e),
                            self.p.def_ref(*f, ws)
                        ),
                    }],
                    (None, Some(alts)) => {
                        let mut v: Vec<StrValue> = Vec::new();
                        for (af, asc, alt) in &alts {
                            let value = self.p.eval_str(*af, *asc, alt);
                            if !v.contains(&value) {
                                v.push(value);
                            }
                        }
                        v
                    }
                    (None, None) => vec![self.p.eval_str(*f, *s, e)],
                },
                None => vec![StrValue::Dynamic {
                    reason: "no event name given".into(),
                }],
            };
            let subject = site.args[1].as_ref().map(|(_, _, e)| render_expr(e));
            let properties = site.args[2]
                .as_ref()
                .map(|(_, _, e)| property_names(e))
                .unwrap_or_default();
            for event in events {
                out.push(AnalyticsEvent {
                    event,
                    package: api.package.to_string(),
                    method: api.method.to_string(),
                    subject: subject.clone(),
                    properties: properties.clone(),
                    function: self.function_ref(site.file, site.scope),
                    file: self.p.files[site.file].path.clone(),
                    line: site.call.line,
                    via: site.via.clone(),
                });
            }
        }
    }

    fn http(
        &self,
        file: usize,
        scope: u32,
        call: &Arc<Call>,
        client: &str,
        base_url: Option<StrValue>,
        out: &mut Vec<HttpCall>,
    ) {
        let method = last_name(&call.func).unwrap_or_default();
        let (verb, url) = match method {
            "request" | "stream" => (call.arg(0, "method"), call.arg(1, "url")),
            _ => (None, call.arg(0, "url")),
        };
        if url.is_none() {
            return;
        }
        let here = |e: Option<&Expr>| e.map(|e| (file, scope, e.clone()));
        let args = vec![here(url), here(verb)];
        for site in self.wrappers.follow(file, scope, Arc::clone(call), args, 0) {
            let verb = match (method, &site.args[1]) {
                ("request" | "stream", Some((f, s, v))) => self
                    .p
                    .eval_str(*f, *s, v)
                    .as_known()
                    .map_or_else(|| "REQUEST".to_string(), str::to_ascii_uppercase),
                ("request" | "stream", None) => "REQUEST".to_string(),
                ("urlopen", _) => "GET".to_string(),
                (m, _) => m.to_ascii_uppercase(),
            };
            let Some((f, s, u)) = &site.args[0] else {
                continue;
            };
            let mut value = self.p.eval_str(*f, *s, u);
            if let Some(base) = &base_url
                && value.text().is_some_and(|t| !t.contains("://"))
            {
                value = join_url(base, &value);
            }
            out.push(HttpCall {
                method: verb,
                host: value.text().and_then(url_host),
                url: value,
                client: client.to_string(),
                function: self.function_ref(site.file, site.scope),
                file: self.p.files[site.file].path.clone(),
                line: site.call.line,
                via: site.via,
            });
        }
    }
}

/// The category of a package that talks to an outside service.
fn service_package(key: &str) -> Option<&'static str> {
    let info = tables::package_info(key)?;
    SERVICE_CATEGORIES
        .contains(&info.category)
        .then_some(info.category)
}

/// Positional arguments before any `*args`.
fn positional(call: &Call) -> usize {
    call.args
        .iter()
        .take_while(|a| !matches!(a, Expr::Starred(_)))
        .count()
}

/// Whether `call` is the value of a `return` in `stmts`.
fn returned(stmts: &[Stmt], call: &Call) -> bool {
    stmts
        .iter()
        .any(|st| matches!(st, Stmt::Return { value: Some(Expr::Call(c)), .. } if **c == *call))
}

fn arguments_text(call: &Call) -> String {
    let mut args: Vec<String> = call.args.iter().map(render_expr).collect();
    args.extend(call.kwargs.iter().map(|k| match &k.name {
        Some(n) => format!("{n}={}", render_expr(&k.value)),
        None => format!("**{}", render_expr(&k.value)),
    }));
    args.join(", ")
}

/// The keys of a properties dict, as written; `…` stands for properties
/// merged in from a value not known here.
fn property_names(e: &Expr) -> Vec<String> {
    match e {
        Expr::Dict(pairs) => {
            let mut names: Vec<String> = Vec::new();
            for (k, _) in pairs {
                let name = match k {
                    Expr::Str(s) => s.to_string(),
                    Expr::DoubleStarred(_) => "…".to_string(),
                    _ => continue,
                };
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            names
        }
        Expr::OneOf(items) => {
            let mut names: Vec<String> = Vec::new();
            for n in items.iter().flat_map(property_names) {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            names
        }
        Expr::Call(c) if c.func.dotted().as_deref() == Some("dict") => c
            .kwargs
            .iter()
            .filter_map(|k| k.name.as_ref().map(|n| n.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `base` joined with a relative `path` the way HTTP clients join a
/// `base_url` and a request path.
fn join_url(base: &StrValue, path: &StrValue) -> StrValue {
    let (Some(b), Some(p)) = (base.text(), path.text()) else {
        return path.clone();
    };
    let text = format!("{}/{}", b.trim_end_matches('/'), p.trim_start_matches('/'));
    match (base, path) {
        (StrValue::Known { .. }, StrValue::Known { .. }) => StrValue::known(text),
        _ => StrValue::Pattern { value: text },
    }
}

/// `scheme://host[:port]` of a URL whose start is literal.
fn url_host(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+')
    {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    (!host.is_empty() && !host.contains("{}")).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_read_only_when_literal() {
        assert_eq!(
            url_host("https://api.github.com/repos/{}/{}"),
            Some("https://api.github.com".into())
        );
        assert_eq!(url_host("https://{}.example.com/x"), None);
        assert_eq!(url_host("/relative/path"), None);
        assert_eq!(
            url_host("http://localhost:8080"),
            Some("http://localhost:8080".into())
        );
    }

    #[test]
    fn base_url_and_path_are_joined_with_one_slash() {
        let base = StrValue::known("https://api.example.com/v2/");
        let path = StrValue::Pattern {
            value: "/users/{}".into(),
        };
        assert_eq!(
            join_url(&base, &path),
            StrValue::Pattern {
                value: "https://api.example.com/v2/users/{}".into()
            }
        );
    }
}
