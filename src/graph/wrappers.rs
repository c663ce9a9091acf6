//! Following an argument out through the functions that pass it on.
//!
//! Real code seldom writes the interesting value where the library call
//! is: `track_event(user, "signed_up")` wraps `mixpanel.track(user, event)`,
//! `save(f"item:{id}", v)` wraps `redis.set(key, v)`, and a Celery task
//! that tracks an event is called with `.delay(event_name=...)`. When an
//! argument of such a call is a bare parameter of the function the call is
//! in, [`Wrappers::follow`] takes each call of that function in its place,
//! wrappers of wrappers too, and carries the other arguments along, so the
//! values are read where they are written.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::calls::{argument, called_function, last_name, param_of};
use super::{Program, Target};
use crate::scan::facts::{Call, Expr, Keyword, ParamKind, Scope, Stmt};

/// An argument, with the file and scope it is written in; `None` when a
/// caller passes nothing for it.
pub type Arg = Option<(usize, u32, Expr)>;

/// Where a call's arguments are finally written: the call itself, or the
/// call of a wrapper that passes them through.
pub struct Site {
    pub file: usize,
    pub scope: u32,
    pub call: Arc<Call>,
    /// The wrappers between this call and the original one, outermost
    /// first, each as `module:qualname at file:line`.
    pub via: Vec<String>,
    pub args: Vec<Arg>,
}

/// How many wrappers deep an argument is followed.
const MAX_WRAPPERS: usize = 4;

/// A call, with the file and scope it is written in.
type CallSite = (usize, u32, Arc<Call>);

/// The calls of a program, indexed by the last name of what they call,
/// built once, the first time callers are wanted.
pub struct Wrappers<'p> {
    program: &'p Program,
    by_name: OnceCell<HashMap<&'p str, Vec<CallSite>>>,
    /// The calls each function is handed to a runner in, as the calls
    /// they amount to; built with `by_name`.
    handed: OnceCell<HashMap<(usize, u32), Vec<Caller>>>,
}

/// A call of a function: the calling file, scope, the call, and how many
/// leading parameters it leaves out (`self` of a bound method).
type Caller = (usize, u32, Arc<Call>, usize);

impl<'p> Wrappers<'p> {
    pub fn new(program: &'p Program) -> Self {
        Wrappers {
            program,
            by_name: OnceCell::new(),
            handed: OnceCell::new(),
        }
    }

    /// The sites that write the arguments of `call` (in `scope` of
    /// `file`): while argument `key` is a bare parameter of the function
    /// the call is in, each call of that function takes its place; where
    /// nothing calls that function, the call itself is the answer.
    pub fn follow(
        &self,
        file: usize,
        scope: u32,
        call: Arc<Call>,
        args: Vec<Arg>,
        key: usize,
    ) -> Vec<Site> {
        let program = self.program;
        let mut done = Vec::new();
        let mut stack = vec![Site {
            file,
            scope,
            call,
            via: Vec::new(),
            args,
        }];
        let mut seen: HashSet<(usize, u32)> = HashSet::new();
        while let Some(site) = stack.pop() {
            let wrapper = site.args[key]
                .as_ref()
                .and_then(|(f, s, e)| param_passed(program, *f, *s, e).map(|(ws, _)| (*f, ws)));
            let Some((wf, ws)) = wrapper else {
                done.push(site);
                continue;
            };
            if site.via.len() >= MAX_WRAPPERS || !seen.insert((wf, ws)) {
                done.push(site);
                continue;
            }
            let callers = self.callers(wf, ws);
            if callers.is_empty() {
                done.push(site);
                continue;
            }
            let Some(wsc) = program.scope(wf, ws) else {
                done.push(site);
                continue;
            };
            let mut via = vec![format!(
                "{} at {}:{}",
                program.def_ref(wf, ws),
                program.files[site.file].path,
                site.call.line
            )];
            via.extend(site.via.iter().cloned());
            for (cf, cs, c, skip) in callers {
                let args: Vec<Arg> = site
                    .args
                    .iter()
                    .map(|a| {
                        a.as_ref()
                            .and_then(|a| rebind(a, (wf, ws), wsc, (cf, cs), &c, skip))
                    })
                    .collect();
                if args[key].is_none() {
                    continue;
                }
                stack.push(Site {
                    file: cf,
                    scope: cs,
                    call: c,
                    via: via.clone(),
                    args,
                });
            }
        }
        done
    }

    /// Every call of the function at `(file, scope)`: the calling file,
    /// scope, call, and how many leading parameters it leaves out. A
    /// Celery task is also called through `.delay(...)`, and through
    /// `.apply_async(args, kwargs)` with literal arguments, which are
    /// returned as the call they amount to.
    pub fn callers(&self, file: usize, scope: u32) -> Vec<Caller> {
        let program = self.program;
        let Some(target) = program.scope(file, scope) else {
            return Vec::new();
        };
        let by_name = self.by_name.get_or_init(|| calls_by_name(program));
        // `__init__` is called by building an instance: `Class(...)`.
        let name = match (
            target.name.as_str(),
            target.parent.and_then(|p| program.scope(file, p)),
        ) {
            ("__init__", Some(class)) if class.kind == crate::scan::facts::ScopeKind::Class => {
                class.name.as_str()
            }
            (n, _) => n,
        };
        let mut out = Vec::new();
        for (cf, si, call) in by_name.get(name).into_iter().flatten() {
            if let Some((f, s, skip)) = called_function(program, *cf, *si, &call.func)
                && (f, s) == (file, scope)
            {
                out.push((*cf, *si, Arc::clone(call), skip));
            }
        }
        // `partial(save, key)`, `background_tasks.add_task(save, key)`:
        // the function and the arguments it will run with.
        let handed = self.handed.get_or_init(|| handed_over(program, by_name));
        out.extend(handed.get(&(file, scope)).into_iter().flatten().cloned());
        for method in ["delay", "apply_async"] {
            for (cf, si, call) in by_name.get(method).into_iter().flatten() {
                let Expr::Attr(task, _) = &call.func else {
                    continue;
                };
                if !matches!(program.resolve(*cf, *si, task),
                    Target::Def { file: f, scope: s } if (f, s) == (file, scope))
                {
                    continue;
                }
                let as_call = if method == "delay" {
                    Some(Arc::clone(call))
                } else {
                    apply_async_call(call).map(Arc::new)
                };
                if let Some(c) = as_call {
                    out.push((*cf, *si, c, 0));
                }
            }
        }
        out
    }
}

/// Calls that run the function they are given with the arguments that
/// follow it, and where that function is among the positional arguments.
const RUNNERS: [(&str, usize); 6] = [
    ("partial", 0),
    ("add_task", 0),
    ("run_in_threadpool", 0),
    ("to_thread", 0),
    ("run_sync", 0),
    ("run_in_executor", 1),
];

/// Every call of a [`RUNNERS`] entry whose function resolves, as the call
/// of that function it amounts to, by function.
fn handed_over(
    program: &Program,
    by_name: &HashMap<&str, Vec<CallSite>>,
) -> HashMap<(usize, u32), Vec<Caller>> {
    let mut out: HashMap<(usize, u32), Vec<Caller>> = HashMap::new();
    for (runner, at) in RUNNERS {
        for (cf, si, call) in by_name.get(runner).into_iter().flatten() {
            let Some(func) = call.args.get(at) else {
                continue;
            };
            let Some((f, s, skip)) = called_function(program, *cf, *si, func) else {
                continue;
            };
            let runs = Call {
                line: call.line,
                func: func.clone(),
                args: call.args[at + 1..].into(),
                kwargs: call.kwargs.clone(),
            };
            out.entry((f, s))
                .or_default()
                .push((*cf, *si, Arc::new(runs), skip));
        }
    }
    out
}

/// `task.apply_async((a, b), {"k": v}, queue=...)` as the call
/// `task(a, b, k=v)` it runs, when its arguments are literals.
fn apply_async_call(call: &Call) -> Option<Call> {
    let args = call.arg(0, "args").map_or(Some(&[][..]), Expr::elements)?;
    let mut kwargs = Vec::new();
    if let Some(k) = call.arg(1, "kwargs") {
        let Expr::Dict(pairs) = k else { return None };
        for (name, value) in pairs {
            kwargs.push(Keyword {
                name: Some(name.as_str()?.into()),
                value: value.clone(),
            });
        }
    }
    Some(Call {
        line: call.line,
        func: call.func.clone(),
        args: args.into(),
        kwargs: kwargs.into_boxed_slice(),
    })
}

fn calls_by_name(program: &Program) -> HashMap<&str, Vec<CallSite>> {
    let mut index: HashMap<&str, Vec<CallSite>> = HashMap::new();
    for (cf, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            for st in &sc.stmts {
                if let Stmt::Call { call, .. } = st
                    && let Some(name) = last_name(&call.func)
                {
                    index
                        .entry(name)
                        .or_default()
                        .push((cf, si as u32, Arc::clone(call)));
                }
            }
        }
    }
    index
}

/// When `expr` is a bare parameter of the function `scope` of `file` (or
/// of a function it is nested in), that function and the parameter index.
pub fn param_passed(
    program: &Program,
    file: usize,
    scope: u32,
    expr: &Expr,
) -> Option<(u32, usize)> {
    let Expr::Name(n) = expr else { return None };
    let (fs, _) = param_of(program, file, scope, n)?;
    // A parameter the function reassigns before the call is not passed
    // through unchanged.
    let sc = program.scope(file, fs)?;
    let reassigned = sc.stmts.iter().any(|st| {
        matches!(st, Stmt::Assign { targets, .. }
            if targets.iter().any(|t| matches!(t, Expr::Name(x) if x == n)))
    });
    if reassigned {
        return None;
    }
    let index = sc.params.iter().position(|p| p.name == n)?;
    Some((fs, index))
}

/// An argument written in the wrapper `(wf, ws)` in terms of the caller
/// `(cf, cs)` that calls it with `call`: a bare parameter becomes what the
/// caller passes for it (its default when nothing is passed), the
/// wrapper's `**kwargs` the caller's extra keyword arguments (also where
/// a dict literal unpacks it), and anything else stays as written.
fn rebind(
    arg: &(usize, u32, Expr),
    wrapper_at: (usize, u32),
    wrapper: &Scope,
    caller: (usize, u32),
    call: &Call,
    skip: usize,
) -> Arg {
    let (f, s, e) = arg;
    if (*f, *s) != wrapper_at {
        return Some(arg.clone());
    }
    let param = |n: &str| wrapper.params.iter().position(|p| p.name == n);
    match e {
        Expr::Name(n) => {
            let Some(index) = param(n) else {
                return Some(arg.clone());
            };
            match wrapper.params[index].kind {
                ParamKind::VarKeywords => Some((caller.0, caller.1, extra_kwargs(wrapper, call))),
                ParamKind::VarArgs => None,
                _ => match argument(call, &wrapper.params, index, skip) {
                    Some(a) => Some((caller.0, caller.1, a.clone())),
                    None => wrapper.params[index]
                        .default
                        .clone()
                        .map(|d| (*f, wrapper.parent.unwrap_or(0), d)),
                },
            }
        }
        Expr::Dict(pairs) => {
            let mut out = Vec::new();
            for (k, v) in pairs {
                // `**kwargs`, `**props`, `**(props or {})`: what the caller
                // passes, spliced in where it is a dict.
                if let Expr::DoubleStarred(inner) = k {
                    let spliced = rebind(
                        &(*f, *s, (**inner).clone()),
                        wrapper_at,
                        wrapper,
                        caller,
                        call,
                        skip,
                    );
                    match spliced.map(|(_, _, e)| e) {
                        Some(Expr::Dict(more)) => out.extend(more),
                        Some(Expr::None) => {}
                        Some(Expr::OneOf(items)) => {
                            for i in items {
                                match i {
                                    Expr::Dict(more) => out.extend(more),
                                    Expr::None => {}
                                    other => {
                                        out.push((Expr::DoubleStarred(Box::new(other)), Expr::None))
                                    }
                                }
                            }
                        }
                        Some(other) => out.push((Expr::DoubleStarred(Box::new(other)), Expr::None)),
                        None => {}
                    }
                    continue;
                }
                out.push((k.clone(), v.clone()));
            }
            Some((caller.0, caller.1, Expr::Dict(out)))
        }
        Expr::OneOf(items) => {
            let items = items
                .iter()
                .filter_map(|i| {
                    rebind(
                        &(*f, *s, i.clone()),
                        wrapper_at,
                        wrapper,
                        caller,
                        call,
                        skip,
                    )
                })
                .map(|(_, _, e)| e)
                .collect();
            Some((caller.0, caller.1, Expr::OneOf(items)))
        }
        _ => Some(arg.clone()),
    }
}

/// The keyword arguments of `call` that no named parameter of `wrapper`
/// takes (what its `**kwargs` receives), as a dict literal; `**x` passed
/// on stays `**x`.
fn extra_kwargs(wrapper: &Scope, call: &Call) -> Expr {
    let named: Vec<&str> = wrapper
        .params
        .iter()
        .filter(|p| matches!(p.kind, ParamKind::Normal | ParamKind::KeywordOnly))
        .map(|p| p.name.as_str())
        .collect();
    let pairs = call
        .kwargs
        .iter()
        .filter_map(|k| match k.name.as_deref() {
            Some(name) if named.contains(&name) => None,
            Some(name) => Some((Expr::Str(name.into()), k.value.clone())),
            None => Some((Expr::DoubleStarred(Box::new(k.value.clone())), Expr::None)),
        })
        .collect();
    Expr::Dict(pairs)
}
