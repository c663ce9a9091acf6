//! What a websocket endpoint does with its connection, and the classes
//! that keep connections open.
//!
//! A websocket route's signature says almost nothing: the protocol lives in
//! the body. [`socket_behaviour`] reads it from the handler's statements
//! (and those of functions nested in it, which share the socket by
//! closure): what is received and sent, which message fields it branches
//! on, how often it polls, and which first-party code it hands the socket
//! to. [`connection_managers`] finds the "manager" classes that broadcast
//! to many sockets.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::Serialize;

use super::models::{self, ModuleInstance};
use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, Param, ParamKind, ScopeKind, Stmt};

const WEBSOCKET_TYPES: &[&str] = &[
    "fastapi.WebSocket",
    "fastapi.websockets.WebSocket",
    "starlette.websockets.WebSocket",
];

const RECEIVE: &[&str] = &[
    "receive_json",
    "receive_text",
    "receive_bytes",
    "receive",
    "iter_text",
    "iter_json",
    "iter_bytes",
];

const SEND: &[&str] = &["send_json", "send_text", "send_bytes", "send"];

const SLEEPS: &[&str] = &["asyncio.sleep", "anyio.sleep", "trio.sleep"];

const ENUM_BASES: &[&str] = &[
    "enum.Enum",
    "enum.StrEnum",
    "enum.IntEnum",
    "enum.Flag",
    "enum.IntFlag",
];

/// Calls that turn a received message into a dict or a model: their
/// result is still "the message".
const DECODERS: &[&str] = &[
    "loads",
    "model_validate",
    "model_validate_json",
    "parse_obj",
    "parse_raw",
    "validate_json",
    "validate_python",
];

/// Container methods that take a socket only to store it.
const CONTAINER_METHODS: &[&str] = &[
    "append",
    "add",
    "remove",
    "discard",
    "insert",
    "extend",
    "pop",
    "index",
    "count",
    "get",
    "setdefault",
];

// Whether `WebSocketDisconnect` is caught is not reported: the facts keep
// no exception types of `except` clauses, and a guess would mislead.
/// What a websocket handler receives, sends, polls and dispatches on.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct SocketBehaviour {
    /// The websocket parameter; absent when the handler has none that can
    /// be recognised, and then every list is empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// Lines of `accept()` calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub accept: Vec<u32>,
    /// Lines of `close()` calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub close: Vec<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receives: Vec<SocketCall>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<SocketSend>,
    /// The message values the handler branches on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<SocketAction>,
    /// Sleeps inside loops: the handler pushes on a timer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub polls: Vec<SocketPoll>,
    /// Calls that hand the socket to other code, with what that code does
    /// with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<SocketHelper>,
}

/// A receive (or `iter_*`) call on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SocketCall {
    pub method: String,
    pub line: u32,
    /// Line of the loop it runs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_line: Option<u32>,
    /// The nested function it is in (`module:qualname`), when not the
    /// handler itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_function: Option<String>,
}

/// A send call on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SocketSend {
    pub method: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_function: Option<String>,
    /// The first-party class sent, as `module:qualname`, for
    /// `send_json(Model(...).model_dump())` and the like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The argument as written, shortened when long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// One value a received message is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SocketAction {
    /// The message field, dotted for nested keys (`data.type`); absent
    /// when the whole message is compared (`if text == "ping"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The literal compared with; absent for an enum member whose value is
    /// not a literal (`auto()`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The enum class, as `module:qualname`, when compared with a member.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enum_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub line: u32,
}

/// A sleep inside a loop.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SocketPoll {
    pub loop_line: u32,
    /// The loop is `while True`.
    pub forever: bool,
    /// Line of the sleep call.
    pub line: u32,
    /// The interval in seconds, folded where possible; a settings default
    /// is known with a note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<StrValue>,
    /// The interval as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval_expr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_function: Option<String>,
}

/// A call that passes the socket to other code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SocketHelper {
    /// The callee as written (`manager.connect`).
    pub call: String,
    /// The first-party function or method, as `module:qualname`, when it
    /// can be resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub line: u32,
    /// What the callee does with the socket it is given: accepting,
    /// receiving, sending and closing, in it and in the functions it hands
    /// the socket on to (three calls deep at most).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub uses: Vec<SocketUse>,
}

/// A call on the socket made inside a helper it was handed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SocketUse {
    /// `accept`, `receive_json`, `send_text`, `close`, ...
    pub method: String,
    /// The helper it is in, as `module:qualname`.
    pub function: String,
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_line: Option<u32>,
}

/// A class that keeps open websockets and sends to them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConnectionManager {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
    /// Method names, in source order.
    pub methods: Vec<String>,
    /// Module-level `manager = ConnectionManager()`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub module_instances: Vec<ModuleInstance>,
}

pub fn socket_behaviour(program: &Program, file: usize, scope: u32) -> SocketBehaviour {
    let Some(facts) = program.files.get(file).and_then(|f| f.facts.as_ref()) else {
        return SocketBehaviour::default();
    };
    let Some(handler) = facts.scopes.get(scope as usize) else {
        return SocketBehaviour::default();
    };
    let Some(param) = socket_param(program, file, scope, &handler.params) else {
        return SocketBehaviour::default();
    };
    let scopes = function_and_nested(program, file, scope);
    let mut sockets: BTreeSet<String> = BTreeSet::from([param.clone()]);
    for &s in &scopes[1..] {
        if let Some(sc) = program.scope(file, s)
            && let Some(p) = socket_param(program, file, s, &sc.params)
        {
            sockets.insert(p);
        }
    }
    let mut flow = MessageFlow::new(&sockets);
    // Starlette's `WebSocketEndpoint.on_receive(self, websocket, data)`
    // gets the decoded message as a parameter.
    if handler.name == "on_receive"
        && let Some(pos) = handler.params.iter().position(|p| p.name == param)
        && let Some(data) = handler.params.get(pos + 1)
    {
        flow.messages.insert(data.name.to_string());
    }
    flow.trace(program, file, &scopes);

    let mut out = SocketBehaviour {
        param: Some(param),
        ..SocketBehaviour::default()
    };
    for &s in &scopes {
        let Some(sc) = program.scope(file, s) else {
            continue;
        };
        let in_function = (s != scope).then(|| program.def_ref(file, s));
        for st in &sc.stmts {
            match st {
                Stmt::Call { call, ctx, .. } => {
                    if let Some(method) = socket_method(&sockets, &call.func) {
                        match method {
                            "accept" => out.accept.push(call.line),
                            "close" => out.close.push(call.line),
                            m if RECEIVE.contains(&m) => out.receives.push(SocketCall {
                                method: m.to_string(),
                                line: call.line,
                                loop_line: ctx.loop_line(),
                                in_function: in_function.clone(),
                            }),
                            m if SEND.contains(&m) => out.sends.push(SocketSend {
                                method: m.to_string(),
                                line: call.line,
                                loop_line: ctx.loop_line(),
                                in_function: in_function.clone(),
                                model: call
                                    .args
                                    .first()
                                    .and_then(|a| sent_model(program, file, s, a, 0)),
                                payload: call.args.first().map(|a| shorten(render_expr(a))),
                            }),
                            _ => {}
                        }
                        continue;
                    }
                    if let Some(loop_line) = ctx.loop_line()
                        && program
                            .qualify(file, s, &call.func)
                            .is_some_and(|q| SLEEPS.contains(&q.as_str()))
                    {
                        let arg = call.arg(0, "delay").or_else(|| call.kwarg("seconds"));
                        out.polls.push(SocketPoll {
                            loop_line,
                            forever: ctx.loop_forever,
                            line: call.line,
                            interval: arg.map(|a| program.eval_str(file, s, a)),
                            interval_expr: arg.map(render_expr),
                            in_function: in_function.clone(),
                        });
                        continue;
                    }
                    if let Some(h) = helper(program, file, s, &sockets, call) {
                        out.helpers.push(h);
                    }
                }
                Stmt::Compare {
                    line, left, right, ..
                } => {
                    let (field, other) = match (flow.field_of(left), flow.field_of(right)) {
                        (Some(f), _) => (f, &**right),
                        (None, Some(f)) => (f, left),
                        (None, None) => continue,
                    };
                    let candidates = match other.elements() {
                        Some(items) => items,
                        None => std::slice::from_ref(other),
                    };
                    for c in candidates {
                        if let Some(a) = action(program, file, s, field.clone(), c, *line) {
                            out.actions.push(a);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out.accept.sort_unstable();
    out.close.sort_unstable();
    out.receives.sort_by_key(|r| r.line);
    out.sends.sort_by_key(|r| r.line);
    out.actions.sort_by_key(|r| r.line);
    out.polls.sort_by_key(|r| r.line);
    out.helpers.sort_by_key(|r| r.line);
    out
}

pub fn connection_managers(program: &Program) -> Vec<ConnectionManager> {
    let mut out = Vec::new();
    for (file, rec, facts) in program.analyzed() {
        // The send test is structural and cheap, so it goes first: only
        // classes that send pay for resolving parameter annotations.
        let mut sending: BTreeSet<u32> = BTreeSet::new();
        for sc in &facts.scopes {
            let sends = sc.kind == ScopeKind::Function
                && sc.stmts.iter().any(|st| {
                    matches!(st, Stmt::Call { call, .. }
                        if matches!(&call.func, Expr::Attr(_, m) if SEND.contains(&m.as_str())))
                });
            if sends && let Some(class) = enclosing_class(facts, sc.parent) {
                sending.insert(class);
            }
        }
        for scope in sending {
            let Some(class) = facts.scopes.get(scope as usize) else {
                continue;
            };
            let methods: Vec<&crate::scan::facts::Scope> = facts
                .scopes
                .iter()
                .filter(|m| m.parent == Some(scope) && m.kind == ScopeKind::Function)
                .collect();
            let takes_socket = methods.iter().any(|m| {
                m.params.iter().any(|p| {
                    p.annotation
                        .as_ref()
                        .is_some_and(|a| is_websocket_type(program, file, scope, a))
                })
            });
            if takes_socket {
                out.push((
                    file,
                    scope,
                    ConnectionManager {
                        class: program.def_ref(file, scope),
                        file: rec.path.clone(),
                        line: class.line,
                        methods: methods.iter().map(|m| m.name.to_string()).collect(),
                        module_instances: Vec::new(),
                    },
                ));
            }
        }
    }
    if !out.is_empty() {
        let mut instances = models::module_instances(program);
        for (file, scope, m) in &mut out {
            m.module_instances = instances.remove(&(*file, *scope)).unwrap_or_default();
        }
    }
    let mut out: Vec<ConnectionManager> = out.into_iter().map(|(_, _, m)| m).collect();
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

/// The nearest class around a function: `parent` is the function's
/// parent, so a method's class, or the class of the method a helper is
/// nested in.
fn enclosing_class(facts: &crate::scan::facts::FileFacts, mut parent: Option<u32>) -> Option<u32> {
    for _ in 0..64 {
        let p = parent?;
        let sc = facts.scopes.get(p as usize)?;
        match sc.kind {
            ScopeKind::Class => return Some(p),
            ScopeKind::Function => parent = sc.parent,
            ScopeKind::Module => return None,
        }
    }
    None
}

/// The scope and every function nested in it at any depth, in source order.
fn function_and_nested(program: &Program, file: usize, scope: u32) -> Vec<u32> {
    let mut out = vec![scope];
    let Some(facts) = program.files.get(file).and_then(|f| f.facts.as_ref()) else {
        return out;
    };
    for (i, sc) in facts.scopes.iter().enumerate() {
        if sc.kind != ScopeKind::Function || i as u32 == scope {
            continue;
        }
        let mut cur = sc.parent;
        let mut hops = 0;
        while let Some(p) = cur {
            if p == scope {
                out.push(i as u32);
                break;
            }
            hops += 1;
            if hops > 64 {
                break;
            }
            cur = facts.scopes.get(p as usize).and_then(|s| s.parent);
        }
    }
    out
}

/// The parameter holding the socket: annotated `WebSocket`, else named
/// `websocket` or `ws` with no annotation that says otherwise.
fn socket_param(program: &Program, file: usize, scope: u32, params: &[Param]) -> Option<String> {
    let parent = program
        .scope(file, scope)
        .and_then(|s| s.parent)
        .unwrap_or(0);
    if let Some(p) = params.iter().find(|p| {
        p.annotation
            .as_ref()
            .is_some_and(|a| is_websocket_type(program, file, parent, a))
    }) {
        return Some(p.name.to_string());
    }
    params
        .iter()
        .find(|p| {
            matches!(p.name.as_str(), "websocket" | "ws")
                && p.annotation
                    .as_ref()
                    .is_none_or(|a| program.qualify(file, parent, a).is_none())
        })
        .map(|p| p.name.to_string())
}

/// `WebSocket`, `Optional[WebSocket]` or `WebSocket | None`.
fn is_websocket_type(program: &Program, file: usize, scope: u32, ann: &Expr) -> bool {
    match ann {
        Expr::Subscript(base, args) if base.dotted().is_some_and(|b| b.ends_with("Optional")) => {
            args.first()
                .is_some_and(|a| is_websocket_type(program, file, scope, a))
        }
        Expr::BinOp(l, crate::scan::facts::BinOp::BitOr, r) => {
            is_websocket_type(program, file, scope, l) || is_websocket_type(program, file, scope, r)
        }
        other => program
            .qualify(file, scope, other)
            .is_some_and(|q| WEBSOCKET_TYPES.contains(&q.as_str())),
    }
}

/// `ws.method` for a socket name `ws`: the method.
fn socket_method<'e>(sockets: &BTreeSet<String>, func: &'e Expr) -> Option<&'e str> {
    match func {
        Expr::Attr(base, method) if matches!(base.as_ref(), Expr::Name(n) if sockets.contains(n.as_str())) => {
            Some(method)
        }
        _ => None,
    }
}

fn strip_await(e: &Expr) -> &Expr {
    match e {
        Expr::Await(inner) => inner,
        other => other,
    }
}

/// Which names hold a received message, and which hold one of its fields.
struct MessageFlow<'a> {
    sockets: &'a BTreeSet<String>,
    messages: BTreeSet<String>,
    /// Name to the dotted field it was read from.
    fields: BTreeMap<String, String>,
}

impl<'a> MessageFlow<'a> {
    fn new(sockets: &'a BTreeSet<String>) -> Self {
        MessageFlow {
            sockets,
            messages: BTreeSet::new(),
            fields: BTreeMap::new(),
        }
    }

    /// Follows assignments until nothing new is learnt; names are not
    /// scoped, which can only over-connect a name reused for two things.
    fn trace(&mut self, program: &Program, file: usize, scopes: &[u32]) {
        for _ in 0..8 {
            let before = (self.messages.len(), self.fields.len());
            for &s in scopes {
                let Some(sc) = program.scope(file, s) else {
                    continue;
                };
                for st in &sc.stmts {
                    match st {
                        Stmt::Assign {
                            targets,
                            value: Some(value),
                            augmented: false,
                            ..
                        } => {
                            let [Expr::Name(name)] = &targets[..] else {
                                continue;
                            };
                            if self.is_message(value) {
                                self.messages.insert(name.to_string());
                            } else if let Some(Some(field)) = self.field_of(value) {
                                self.fields.insert(name.to_string(), field);
                            }
                        }
                        Stmt::For { target, iter, .. } => {
                            if let Expr::Name(name) = &**target
                                && self.is_receive(iter)
                            {
                                self.messages.insert(name.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
            if (self.messages.len(), self.fields.len()) == before {
                break;
            }
        }
    }

    fn is_receive(&self, e: &Expr) -> bool {
        matches!(strip_await(e), Expr::Call(c)
            if socket_method(self.sockets, &c.func).is_some_and(|m| RECEIVE.contains(&m)))
    }

    /// A received message, or one decoded from it.
    fn is_message(&self, e: &Expr) -> bool {
        if self.is_receive(e) {
            return true;
        }
        match strip_await(e) {
            Expr::Name(n) => self.messages.contains(n.as_str()),
            Expr::Call(c) => {
                let decoder = match &c.func {
                    Expr::Attr(_, m) => DECODERS.contains(&m.as_str()),
                    _ => false,
                };
                decoder && c.args.first().is_some_and(|a| self.is_message(a))
            }
            _ => false,
        }
    }

    /// `Some(None)` for the message itself, `Some(Some("action"))` for
    /// `msg["action"]`, `msg.get("action")`, `msg.action` or a name
    /// assigned from one; `None` for anything else.
    fn field_of(&self, e: &Expr) -> Option<Option<String>> {
        let join = |base: Option<String>, key: &str| {
            Some(Some(match base {
                Some(b) => format!("{b}.{key}"),
                None => key.to_string(),
            }))
        };
        match e {
            Expr::Name(n) if self.messages.contains(n.as_str()) => Some(None),
            Expr::Name(n) => self.fields.get(n.as_str()).map(|f| Some(f.clone())),
            Expr::Subscript(base, keys) => {
                let key = keys.first()?.as_str()?;
                join(self.field_of(base)?, key)
            }
            Expr::Call(c) => match &c.func {
                Expr::Attr(base, m) if m == "get" => {
                    let key = c.args.first()?.as_str()?;
                    join(self.field_of(base)?, key)
                }
                _ => None,
            },
            Expr::Attr(base, key) => join(self.field_of(base)?, key),
            _ => None,
        }
    }
}

/// What a compared value says: a literal, a constant, or an enum member.
/// Known shortcoming: mapping and class patterns (`case {"type": "join"}`)
/// never reach here, because the extractor records only literal and dotted
/// `case` patterns.
fn action(
    program: &Program,
    file: usize,
    scope: u32,
    field: Option<String>,
    e: &Expr,
    line: u32,
) -> Option<SocketAction> {
    // `case Action.JOIN:` comes from the extractor as one dotted name.
    let e = match e {
        Expr::Name(n) if n.contains('.') => dotted_expr(n)?,
        other => other.clone(),
    };
    if let Expr::Attr(base, member) = &e
        && let Target::Def {
            file: cf,
            scope: cs,
        } = program.resolve(file, scope, base)
        && program.class_extends(cf, cs, ENUM_BASES)
    {
        let value = match program.eval_str(file, scope, &e) {
            StrValue::Known { value, .. } => Some(value),
            _ => None,
        };
        return Some(SocketAction {
            field,
            value,
            enum_class: Some(program.def_ref(cf, cs)),
            member: Some(member.to_string()),
            line,
        });
    }
    let value = match &e {
        Expr::Str(s) => s.to_string(),
        Expr::Num(n) => n.to_string(),
        Expr::Name(_) | Expr::Attr(..) => program.eval_str(file, scope, &e).as_known()?.to_string(),
        _ => return None,
    };
    Some(SocketAction {
        field,
        value: Some(value),
        enum_class: None,
        member: None,
        line,
    })
}

fn dotted_expr(text: &str) -> Option<Expr> {
    let mut parts = text.split('.');
    let mut e = Expr::Name(parts.next()?.into());
    for p in parts {
        e = Expr::Attr(Box::new(e), p.into());
    }
    Some(e)
}

/// The first-party class behind a sent value: `Model(...)`,
/// `Model(...).model_dump()` and its v1 and JSON forms, or a name bound to
/// one of those.
fn sent_model(
    program: &Program,
    file: usize,
    scope: u32,
    arg: &Expr,
    depth: u32,
) -> Option<String> {
    if depth > 8 {
        return None;
    }
    let call = match strip_await(arg) {
        Expr::Call(c) => c.clone(),
        Expr::Name(_) => {
            return match program.resolve(file, scope, arg) {
                Target::Value {
                    file: f,
                    scope: s,
                    value,
                    ..
                } => sent_model(program, f, s, value, depth + 1),
                _ => None,
            };
        }
        _ => return None,
    };
    let call = match &call.func {
        Expr::Attr(recv, m)
            if matches!(
                m.as_str(),
                "model_dump" | "dict" | "model_dump_json" | "json"
            ) =>
        {
            match recv.as_ref() {
                Expr::Call(inner) => inner.clone(),
                Expr::Name(_) => return sent_model(program, file, scope, recv, depth + 1),
                _ => return None,
            }
        }
        _ => call,
    };
    match program.resolve(file, scope, &call.func) {
        Target::Def { file: f, scope: s }
            if program
                .scope(f, s)
                .is_some_and(|c| c.kind == ScopeKind::Class) =>
        {
            Some(program.def_ref(f, s))
        }
        _ => None,
    }
}

/// A call passing the socket along, unless it only stores the socket in a
/// container, calls a builtin, or goes outside the analysed code.
fn helper(
    program: &Program,
    file: usize,
    scope: u32,
    sockets: &BTreeSet<String>,
    call: &Call,
) -> Option<SocketHelper> {
    let passes = call
        .args
        .iter()
        .chain(call.kwargs.iter().map(|k| &k.value))
        .any(|a| matches!(a, Expr::Name(n) if sockets.contains(n.as_str())));
    if !passes {
        return None;
    }
    let def = match callee(program, file, scope, call) {
        Callee::Def(f, s) => Some((f, s)),
        Callee::Unresolved => None,
        Callee::Outside => return None,
    };
    let uses = def
        .and_then(|(f, s)| {
            let param = receiving_param(program, call, sockets, f, s)?;
            let mut seen = vec![(f, s)];
            Some(helper_uses(program, f, s, &param, 0, &mut seen))
        })
        .unwrap_or_default();
    Some(SocketHelper {
        call: render_expr(&call.func),
        target: def.map(|(f, s)| program.def_ref(f, s)),
        line: call.line,
        uses,
    })
}

/// What a call runs.
#[derive(Clone, Copy)]
enum Callee {
    /// A first-party function or method.
    Def(usize, u32),
    /// Maybe first-party code, but it cannot be resolved.
    Unresolved,
    /// Certainly not code of the program: a builtin, a library function, a
    /// list's `append`.
    Outside,
}

fn callee(program: &Program, file: usize, scope: u32, call: &Call) -> Callee {
    match program.resolve(file, scope, &call.func) {
        Target::Def { file: f, scope: s } => Callee::Def(f, s),
        Target::External(_) | Target::Module(_) => Callee::Outside,
        Target::Value { .. } => Callee::Unresolved,
        Target::Unknown => match &call.func {
            Expr::Attr(base, method) => match instance_class(program, file, scope, base) {
                Instance::Class(cf, cs) => match program.method_def(cf, cs, method) {
                    Some((f, s)) => Callee::Def(f, s),
                    None => Callee::Unresolved,
                },
                Instance::NotFirstParty => Callee::Outside,
                Instance::Unknown if CONTAINER_METHODS.contains(&method.as_str()) => {
                    Callee::Outside
                }
                Instance::Unknown => Callee::Unresolved,
            },
            // An unbound bare name is a builtin (`print`, `id`).
            _ => Callee::Outside,
        },
    }
}

/// The parameter of the function at `(file, scope)` that receives the
/// socket `call` passes: by position (after `self` for a method called on
/// an instance) or by keyword.
fn receiving_param(
    program: &Program,
    call: &Call,
    sockets: &BTreeSet<String>,
    file: usize,
    scope: u32,
) -> Option<String> {
    let is_socket = |e: &Expr| matches!(e, Expr::Name(n) if sockets.contains(n.as_str()));
    let target = program.scope(file, scope)?;
    if let Some(k) = call.kwargs.iter().find(|k| is_socket(&k.value)) {
        let name = k.name.as_deref()?;
        return target
            .params
            .iter()
            .any(|p| p.name == name)
            .then(|| name.to_string());
    }
    let pos = call.args.iter().position(is_socket)?;
    let in_class = target
        .parent
        .and_then(|p| program.scope(file, p))
        .is_some_and(|p| p.kind == ScopeKind::Class);
    let bound = in_class
        && matches!(&call.func, Expr::Attr(..))
        && target
            .params
            .first()
            .is_some_and(|p| p.name == "self" || p.name == "cls");
    let p = target.params.get(pos + usize::from(bound))?;
    (p.kind == ParamKind::Normal).then(|| p.name.to_string())
}

/// The socket calls a helper makes on its parameter `param`, and those of
/// the helpers it hands the socket on to, up to three calls deep.
fn helper_uses(
    program: &Program,
    file: usize,
    scope: u32,
    param: &str,
    depth: u32,
    seen: &mut Vec<(usize, u32)>,
) -> Vec<SocketUse> {
    let sockets = BTreeSet::from([param.to_string()]);
    let function = program.def_ref(file, scope);
    let path = &program.files[file].path;
    let mut out = Vec::new();
    for s in function_and_nested(program, file, scope) {
        let Some(sc) = program.scope(file, s) else {
            continue;
        };
        for st in &sc.stmts {
            let Stmt::Call { call, ctx, .. } = st else {
                continue;
            };
            if let Some(method) = socket_method(&sockets, &call.func) {
                if method == "accept"
                    || method == "close"
                    || RECEIVE.contains(&method)
                    || SEND.contains(&method)
                {
                    out.push(SocketUse {
                        method: method.to_string(),
                        function: function.clone(),
                        file: path.clone(),
                        line: call.line,
                        loop_line: ctx.loop_line(),
                    });
                }
                continue;
            }
            if depth >= 2 {
                continue;
            }
            let Callee::Def(f, cs) = callee(program, file, s, call) else {
                continue;
            };
            if seen.contains(&(f, cs)) {
                continue;
            }
            if let Some(p) = receiving_param(program, call, &sockets, f, cs) {
                seen.push((f, cs));
                out.extend(helper_uses(program, f, cs, &p, depth + 1, seen));
            }
        }
    }
    out
}

enum Instance {
    Class(usize, u32),
    /// A literal, or an instance of a class outside the analysed code.
    NotFirstParty,
    Unknown,
}

/// The class `base` is an instance of: `manager = Manager()` (in any
/// module) or a parameter annotated `Manager` (also inside `Annotated`).
fn instance_class(program: &Program, file: usize, scope: u32, base: &Expr) -> Instance {
    let class_of = |f: usize, s: u32, e: &Expr| match program.resolve(f, s, e) {
        Target::Def { file, scope }
            if program
                .scope(file, scope)
                .is_some_and(|c| c.kind == ScopeKind::Class) =>
        {
            Instance::Class(file, scope)
        }
        Target::External(_) => Instance::NotFirstParty,
        _ => Instance::Unknown,
    };
    match program.resolve(file, scope, base) {
        Target::Value {
            file: f,
            scope: s,
            value,
            ..
        } => match value {
            Expr::Call(c) => class_of(f, s, &c.func),
            Expr::List(_) | Expr::Dict(_) | Expr::Set(_) | Expr::Tuple(_) | Expr::Str(_) => {
                Instance::NotFirstParty
            }
            _ => Instance::Unknown,
        },
        Target::Unknown => {
            let Expr::Name(name) = base else {
                return Instance::Unknown;
            };
            let mut cur = Some(scope);
            while let Some(s) = cur {
                let Some(sc) = program.scope(file, s) else {
                    break;
                };
                if let Some(p) = sc.params.iter().find(|p| p.name == name) {
                    let parent = sc.parent.unwrap_or(0);
                    let ann = match &p.annotation {
                        Some(Expr::Subscript(b, args))
                            if b.dotted().is_some_and(|d| d.ends_with("Annotated")) =>
                        {
                            args.first()
                        }
                        other => other.as_ref(),
                    };
                    return ann.map_or(Instance::Unknown, |a| class_of(file, parent, a));
                }
                if s == 0 {
                    break;
                }
                cur = sc.parent;
            }
            Instance::Unknown
        }
        _ => Instance::Unknown,
    }
}

fn shorten(s: String) -> String {
    const MAX: usize = 120;
    if s.chars().count() <= MAX {
        return s;
    }
    let mut out: String = s.chars().take(MAX).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(file, scope)` of the definition `qualname` in `path`.
    fn def(program: &Program, path: &str, qualname: &str) -> (usize, u32) {
        let file = program.file(path).expect("file");
        let facts = program.files[file].facts.as_ref().expect("facts");
        let scope = facts
            .scopes
            .iter()
            .position(|s| s.qualname == qualname)
            .expect("scope");
        (file, scope as u32)
    }

    fn behaviour(sources: &[(&str, &str)], path: &str, qualname: &str) -> SocketBehaviour {
        let program = Program::from_sources(sources);
        let (f, s) = def(&program, path, qualname);
        socket_behaviour(&program, f, s)
    }

    /// `(field, value, enum_class, member, line)`.
    type ActionRow<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        u32,
    );

    fn actions(b: &SocketBehaviour) -> Vec<ActionRow<'_>> {
        b.actions
            .iter()
            .map(|a| {
                (
                    a.field.as_deref(),
                    a.value.as_deref(),
                    a.enum_class.as_deref(),
                    a.member.as_deref(),
                    a.line,
                )
            })
            .collect()
    }

    const CHAT: &str = "\
from fastapi import APIRouter, WebSocket
from app.schemas import Reply

router = APIRouter()

@router.websocket('/chat')
async def chat(sock: WebSocket):
    await sock.accept()
    while True:
        msg = await sock.receive_json()
        action = msg.get('action')
        if action == 'join':
            await sock.send_json(Reply(ok=True).model_dump())
        elif msg['action'] in ('leave', 'quit'):
            await sock.send_text('bye')
            await sock.close()
        elif msg['data']['kind'] == 'typing':
            await sock.send_json({'type': 'typing'})
";

    #[test]
    fn receives_sends_accept_close_and_string_actions() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/schemas.py",
                    "from pydantic import BaseModel\n\nclass Reply(BaseModel):\n    ok: bool\n",
                ),
                ("app/chat.py", CHAT),
            ],
            "app/chat.py",
            "chat",
        );
        assert_eq!(b.param.as_deref(), Some("sock"));
        assert_eq!(b.accept, vec![8]);
        assert_eq!(b.close, vec![16]);
        assert_eq!(
            b.receives,
            vec![SocketCall {
                method: "receive_json".into(),
                line: 10,
                loop_line: Some(9),
                in_function: None
            }]
        );
        let sends: Vec<(&str, u32, Option<&str>)> = b
            .sends
            .iter()
            .map(|s| (s.method.as_str(), s.line, s.model.as_deref()))
            .collect();
        assert_eq!(
            sends,
            vec![
                ("send_json", 13, Some("app.schemas:Reply")),
                ("send_text", 15, None),
                ("send_json", 18, None),
            ]
        );
        assert_eq!(
            b.sends[2].payload.as_deref(),
            Some("{\"type\": \"typing\"}")
        );
        assert_eq!(
            actions(&b),
            vec![
                (Some("action"), Some("join"), None, None, 12),
                (Some("action"), Some("leave"), None, None, 14),
                (Some("action"), Some("quit"), None, None, 14),
                (Some("data.kind"), Some("typing"), None, None, 17),
            ]
        );
    }

    #[test]
    fn enum_members_resolve_to_their_class_and_value() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/actions.py",
                    "from enum import Enum, auto\n\nclass Action(str, Enum):\n    SUBSCRIBE = 'subscribe'\n    PING = auto()\n",
                ),
                (
                    "app/ws.py",
                    "from fastapi import WebSocket\nfrom app.actions import Action\n\n\
                     async def feed(websocket: WebSocket):\n\
                     \x20   data = await websocket.receive_json()\n\
                     \x20   if data['type'] == Action.SUBSCRIBE:\n\
                     \x20       pass\n\
                     \x20   if data['type'] == Action.PING:\n\
                     \x20       pass\n",
                ),
            ],
            "app/ws.py",
            "feed",
        );
        assert_eq!(
            actions(&b),
            vec![
                (
                    Some("type"),
                    Some("subscribe"),
                    Some("app.actions:Action"),
                    Some("SUBSCRIBE"),
                    6
                ),
                (
                    Some("type"),
                    None,
                    Some("app.actions:Action"),
                    Some("PING"),
                    8
                ),
            ]
        );
    }

    #[test]
    fn match_case_dispatch_on_a_decoded_text_message() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/kinds.py",
                    "import enum\n\nclass Kind(enum.Enum):\n    STOP = 'stop'\n",
                ),
                (
                    "app/ws.py",
                    "import json\nfrom starlette.websockets import WebSocket\nfrom app.kinds import Kind\n\n\
                     async def ep(ws: WebSocket):\n\
                     \x20   async for raw in ws.iter_text():\n\
                     \x20       msg = json.loads(raw)\n\
                     \x20       match msg['op']:\n\
                     \x20           case 'start':\n\
                     \x20               pass\n\
                     \x20           case Kind.STOP:\n\
                     \x20               pass\n",
                ),
            ],
            "app/ws.py",
            "ep",
        );
        assert_eq!(b.receives[0].method, "iter_text");
        assert_eq!(
            actions(&b),
            vec![
                (Some("op"), Some("start"), None, None, 9),
                (
                    Some("op"),
                    Some("stop"),
                    Some("app.kinds:Kind"),
                    Some("STOP"),
                    11
                ),
            ]
        );
    }

    #[test]
    fn raw_text_comparison_has_no_field() {
        let b = behaviour(
            &[(
                "app/ws.py",
                "async def ep(websocket):\n    text = await websocket.receive_text()\n    if text == 'ping':\n        await websocket.send_text('pong')\n",
            )],
            "app/ws.py",
            "ep",
        );
        assert_eq!(b.param.as_deref(), Some("websocket"));
        assert_eq!(actions(&b), vec![(None, Some("ping"), None, None, 3)]);
    }

    #[test]
    fn poll_interval_from_a_settings_default_is_known_with_a_note() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/config.py",
                    "from pydantic_settings import BaseSettings\n\nclass Settings(BaseSettings):\n    poll_seconds: float = 2.5\n\nsettings = Settings()\n",
                ),
                (
                    "app/ws.py",
                    "import asyncio\nimport anyio\nfrom fastapi import WebSocket\nfrom app.config import settings\n\n\
                     async def status(ws: WebSocket):\n\
                     \x20   await ws.accept()\n\
                     \x20   while True:\n\
                     \x20       await ws.send_json({'ok': True})\n\
                     \x20       await asyncio.sleep(settings.poll_seconds)\n\
                     \x20   for _ in range(3):\n\
                     \x20       await anyio.sleep(1)\n\
                     \x20   await asyncio.sleep(5)\n",
                ),
            ],
            "app/ws.py",
            "status",
        );
        assert_eq!(b.polls.len(), 2);
        let p = &b.polls[0];
        assert_eq!((p.loop_line, p.forever, p.line), (8, true, 10));
        assert_eq!(
            p.interval,
            Some(StrValue::Known {
                value: "2.5".into(),
                note: Some(
                    "default of `Settings.poll_seconds`; the environment may override it".into()
                )
            })
        );
        assert_eq!(p.interval_expr.as_deref(), Some("settings.poll_seconds"));
        let q = &b.polls[1];
        assert_eq!((q.loop_line, q.forever, q.line), (11, false, 12));
        assert_eq!(q.interval, Some(StrValue::known("1")));
        assert_eq!(b.sends[0].loop_line, Some(8));
    }

    #[test]
    fn helpers_resolve_module_instances_and_annotated_parameters() {
        let program = Program::from_sources(&[
            ("app/__init__.py", ""),
            (
                "app/manager.py",
                "from fastapi import WebSocket\n\n\
                 class ConnectionManager:\n\
                 \x20   def __init__(self):\n\
                 \x20       self.active: list[WebSocket] = []\n\n\
                 \x20   async def connect(self, websocket: WebSocket):\n\
                 \x20       await websocket.accept()\n\
                 \x20       self.active.append(websocket)\n\n\
                 \x20   async def broadcast(self, text: str):\n\
                 \x20       for c in self.active:\n\
                 \x20           await c.send_text(text)\n\n\
                 manager = ConnectionManager()\n\n\
                 class Recorder:\n\
                 \x20   def keep(self, ws: WebSocket):\n\
                 \x20       self.ws = ws\n",
            ),
            (
                "app/ws.py",
                "from typing import Annotated\nfrom fastapi import Depends, WebSocket\n\
                 from app.manager import manager, Recorder\n\n\
                 def log_socket(ws):\n    pass\n\n\
                 async def room(websocket: WebSocket, rec: Annotated[Recorder, Depends()], other=None):\n\
                 \x20   await manager.connect(websocket)\n\
                 \x20   rec.keep(websocket)\n\
                 \x20   log_socket(websocket)\n\
                 \x20   other.attach(websocket)\n\
                 \x20   print(websocket)\n\
                 \x20   conns = []\n\
                 \x20   conns.append(websocket)\n",
            ),
        ]);
        let (f, s) = def(&program, "app/ws.py", "room");
        let b = socket_behaviour(&program, f, s);
        let helpers: Vec<(&str, Option<&str>, u32)> = b
            .helpers
            .iter()
            .map(|h| (h.call.as_str(), h.target.as_deref(), h.line))
            .collect();
        assert_eq!(
            helpers,
            vec![
                (
                    "manager.connect",
                    Some("app.manager:ConnectionManager.connect"),
                    9
                ),
                ("rec.keep", Some("app.manager:Recorder.keep"), 10),
                ("log_socket", Some("app.ws:log_socket"), 11),
                ("other.attach", None, 12),
            ]
        );

        let managers = connection_managers(&program);
        assert_eq!(managers.len(), 1, "Recorder takes a socket but never sends");
        let m = &managers[0];
        assert_eq!(m.class, "app.manager:ConnectionManager");
        assert_eq!((m.file.as_str(), m.line), ("app/manager.py", 3));
        assert_eq!(m.methods, vec!["__init__", "connect", "broadcast"]);
        assert_eq!(
            m.module_instances,
            vec![ModuleInstance {
                file: "app/manager.py".into(),
                line: 15,
                name: "manager".into()
            }]
        );
    }

    #[test]
    fn what_helpers_do_with_the_socket_is_listed_under_them() {
        let program = Program::from_sources(&[
            ("app/__init__.py", ""),
            (
                "app/conn.py",
                "from fastapi import WebSocket\n\n\
                 class Hub:\n\
                 \x20   async def join(self, ws: WebSocket):\n\
                 \x20       await ws.accept()\n\n\
                 \x20   async def pump(self, room, *, sock):\n\
                 \x20       while True:\n\
                 \x20           await sock.send_json(room)\n\
                 \x20           await relay(sock)\n\n\
                 async def relay(target):\n\
                 \x20   data = await target.receive_text()\n\
                 \x20   await echo(target, data)\n\n\
                 async def echo(target, data):\n\
                 \x20   await target.send_text(data)\n\
                 \x20   await relay(target)\n\n\
                 hub = Hub()\n",
            ),
            (
                "app/ws.py",
                "from fastapi import WebSocket\nfrom app.conn import hub, relay\n\n\
                 async def room(websocket: WebSocket):\n\
                 \x20   await hub.join(websocket)\n\
                 \x20   await hub.pump('lobby', sock=websocket)\n\
                 \x20   await relay(websocket)\n",
            ),
        ]);
        let (f, s) = def(&program, "app/ws.py", "room");
        let b = socket_behaviour(&program, f, s);
        // `(method, function, line, loop line)` of each use, per helper.
        type Uses<'a> = Vec<(&'a str, &'a str, u32, Option<u32>)>;
        let uses: Vec<(&str, Uses)> = b
            .helpers
            .iter()
            .map(|h| {
                (
                    h.call.as_str(),
                    h.uses
                        .iter()
                        .map(|u| (u.method.as_str(), u.function.as_str(), u.line, u.loop_line))
                        .collect(),
                )
            })
            .collect();
        // After `self` for a method called on an instance; by keyword; and
        // through helpers of helpers, each function once, though `relay`
        // and `echo` call each other.
        assert_eq!(
            uses,
            vec![
                ("hub.join", vec![("accept", "app.conn:Hub.join", 5, None)]),
                (
                    "hub.pump",
                    vec![
                        ("send_json", "app.conn:Hub.pump", 9, Some(8)),
                        ("receive_text", "app.conn:relay", 13, None),
                        ("send_text", "app.conn:echo", 17, None),
                    ]
                ),
                (
                    "relay",
                    vec![
                        ("receive_text", "app.conn:relay", 13, None),
                        ("send_text", "app.conn:echo", 17, None),
                    ]
                ),
            ]
        );
        // The handler's own lists stay its own.
        assert!(b.accept.is_empty() && b.sends.is_empty() && b.receives.is_empty());
    }

    #[test]
    fn manager_sending_from_a_nested_function_with_an_optional_socket_param() {
        let program = Program::from_sources(&[
            ("app/__init__.py", ""),
            (
                "app/hub.py",
                "import asyncio\nfrom typing import Optional\nimport starlette.websockets as sw\n\n\
                 class Hub:\n\
                 \x20   def add(self, ws: Optional[sw.WebSocket] = None):\n\
                 \x20       pass\n\
                 \x20   async def push(self, text):\n\
                 \x20       async def one(c):\n\
                 \x20           await c.send_text(text)\n\
                 \x20       await asyncio.gather(*[one(c) for c in self.conns])\n\n\
                 class Mailer:\n\
                 \x20   def send(self, to: str):\n\
                 \x20       self.smtp.send(to)\n",
            ),
        ]);
        let managers = connection_managers(&program);
        let got: Vec<(&str, u32, Vec<String>)> = managers
            .iter()
            .map(|m| (m.class.as_str(), m.line, m.methods.clone()))
            .collect();
        assert_eq!(
            got,
            vec![(
                "app.hub:Hub",
                5,
                vec!["add".to_string(), "push".to_string()]
            )]
        );
        assert!(managers[0].module_instances.is_empty());
    }

    #[test]
    fn nested_functions_share_the_socket() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/ws.py",
                    "import asyncio\nfrom fastapi import WebSocket\n\n\
                 async def duplex(ws: WebSocket):\n\
                 \x20   async def reader():\n\
                 \x20       while True:\n\
                 \x20           await ws.receive_bytes()\n\
                 \x20   async def writer():\n\
                 \x20       await ws.send_bytes(b'x')\n\
                 \x20   await asyncio.gather(reader(), writer())\n",
                ),
            ],
            "app/ws.py",
            "duplex",
        );
        assert_eq!(
            b.receives,
            vec![SocketCall {
                method: "receive_bytes".into(),
                line: 7,
                loop_line: Some(6),
                in_function: Some("app.ws:duplex.<locals>.reader".into()),
            }]
        );
        assert_eq!(
            b.sends[0].in_function.as_deref(),
            Some("app.ws:duplex.<locals>.writer")
        );
    }

    #[test]
    fn sent_models_through_names_and_json_forms() {
        let b = behaviour(
            &[
                ("app/__init__.py", ""),
                (
                    "app/ws.py",
                    "from fastapi import WebSocket\nfrom pydantic import BaseModel\n\n\
                     class Tick(BaseModel):\n    n: int\n\n\
                     async def ticks(ws: WebSocket):\n\
                     \x20   t = Tick(n=1)\n\
                     \x20   await ws.send_json(t.model_dump())\n\
                     \x20   await ws.send_text(Tick(n=2).model_dump_json())\n\
                     \x20   await ws.send_json(Tick(n=3).dict())\n\
                     \x20   await ws.send_json(dict(n=4))\n",
                ),
            ],
            "app/ws.py",
            "ticks",
        );
        let models: Vec<Option<&str>> = b.sends.iter().map(|s| s.model.as_deref()).collect();
        assert_eq!(
            models,
            vec![
                Some("app.ws:Tick"),
                Some("app.ws:Tick"),
                Some("app.ws:Tick"),
                None
            ]
        );
    }

    #[test]
    fn no_socket_parameter_gives_an_empty_behaviour() {
        let program =
            Program::from_sources(&[("app/ws.py", "def f(x: int):\n    x.send_json(1)\n")]);
        let (f, s) = def(&program, "app/ws.py", "f");
        let b = socket_behaviour(&program, f, s);
        assert!(b.param.is_none() && b.sends.is_empty());
        // Out-of-range indexes are not a panic.
        assert!(socket_behaviour(&program, 99, 0).param.is_none());
        assert!(socket_behaviour(&program, f, 99).param.is_none());
    }
}
