//! Which first-party functions a function reaches through its calls.
//!
//! The flow of a request goes from the route's endpoint into the service
//! layer and on to the places that enqueue work or touch Redis; a task's
//! flow goes from its function to its Redis keys. [`CallGraph::reach`]
//! answers "what does this function end up running?" by following calls
//! that resolve statically: plain and imported functions, module
//! attributes (`actions.submit(...)`), methods of classes instantiated in
//! the code (`manager = Manager(); manager.connect(...)`), methods of
//! parameters annotated with a first-party class, and `self.method()`.
//! Callees are resolved only for functions a walk reaches, so a program
//! without routes or tasks pays nothing.

use std::collections::{HashMap, HashSet, VecDeque};

use super::{Program, Target};
use crate::scan::facts::{Call, Expr, Param, Scope, ScopeKind, Stmt};

/// A function or method, by file and scope index.
pub type Def = (usize, u32);

/// A function the walk reached.
#[derive(Debug, Clone)]
pub struct Reached {
    pub def: Def,
    /// Calls between the root and it; 0 for the root itself.
    pub depth: u32,
    /// The function that calls it on the way, and the line of that call.
    pub via: Option<(Def, u32)>,
}

/// How far a walk goes: deep enough for route -> service -> repository ->
/// client helper chains, bounded so one walk stays cheap.
const MAX_DEPTH: u32 = 8;
const MAX_REACHED: usize = 400;

pub struct CallGraph<'p> {
    program: &'p Program,
    callees: HashMap<Def, Vec<(Def, u32)>>,
}

impl<'p> CallGraph<'p> {
    pub fn new(program: &'p Program) -> Self {
        CallGraph {
            program,
            callees: HashMap::new(),
        }
    }

    /// Every function reached from `root`, breadth first, each once.
    pub fn reach(&mut self, root: Def) -> Vec<Reached> {
        let mut out = vec![Reached {
            def: root,
            depth: 0,
            via: None,
        }];
        let mut seen: HashSet<Def> = HashSet::from([root]);
        let mut queue = VecDeque::from([(root, 0)]);
        while let Some((def, depth)) = queue.pop_front() {
            if depth >= MAX_DEPTH || out.len() >= MAX_REACHED {
                continue;
            }
            let callees = self.callees_of(def).to_vec();
            for (callee, line) in callees {
                if seen.insert(callee) {
                    out.push(Reached {
                        def: callee,
                        depth: depth + 1,
                        via: Some((def, line)),
                    });
                    queue.push_back((callee, depth + 1));
                }
            }
        }
        out
    }

    fn callees_of(&mut self, def: Def) -> &[(Def, u32)] {
        if !self.callees.contains_key(&def) {
            let found = self.resolve_callees(def);
            self.callees.insert(def, found);
        }
        &self.callees[&def]
    }

    /// The first-party functions `def` calls, in its own body and in
    /// functions nested in it (closures it may run).
    fn resolve_callees(&self, (file, scope): Def) -> Vec<(Def, u32)> {
        let program = self.program;
        let Some(facts) = program.files[file].facts.as_ref() else {
            return Vec::new();
        };
        let mut scopes = vec![scope];
        for (i, s) in facts.scopes.iter().enumerate() {
            if s.kind == ScopeKind::Function && s.parent.is_some_and(|p| scopes.contains(&p)) {
                scopes.push(i as u32);
            }
        }
        let mut out: Vec<(Def, u32)> = Vec::new();
        for &s in &scopes {
            let Some(sc) = facts.scopes.get(s as usize) else {
                continue;
            };
            for st in &sc.stmts {
                let Stmt::Call { call, .. } = st else {
                    continue;
                };
                if !matches!(call.func, Expr::Name(_) | Expr::Attr(..)) {
                    continue;
                }
                if let Some(callee) = self.callee(file, s, &call.func)
                    && callee != (file, scope)
                    && !out.iter().any(|(d, _)| *d == callee)
                {
                    out.push((callee, call.line));
                }
            }
        }
        out
    }

    fn callee(&self, file: usize, scope: u32, func: &Expr) -> Option<Def> {
        let program = self.program;
        match program.resolve(file, scope, func) {
            Target::Def { file: f, scope: s } => {
                let sc = program.scope(f, s)?;
                match sc.kind {
                    ScopeKind::Function => Some((f, s)),
                    // Building an instance runs `__init__`.
                    ScopeKind::Class => program.method(f, s, "__init__").map(|m| (f, m)),
                    ScopeKind::Module => None,
                }
            }
            _ => {
                let Expr::Attr(base, method) = func else {
                    return None;
                };
                let (cf, cs) = instance_class(program, file, scope, base)?;
                program.method(cf, cs, method).map(|m| (cf, m))
            }
        }
    }
}

/// The first-party class an expression is an instance of, when that
/// is visible: `self` in a method, a name bound to `Class(...)`, or a
/// parameter annotated with the class.
pub fn instance_class(program: &Program, file: usize, scope: u32, base: &Expr) -> Option<Def> {
    let is_class = |f: usize, s: u32| {
        program
            .scope(f, s)
            .is_some_and(|sc| sc.kind == ScopeKind::Class)
    };
    if let Expr::Name(n) = base {
        let sc = program.scope(file, scope)?;
        if sc.kind == ScopeKind::Function
            && let Some(p) = sc.params.iter().position(|p| &p.name == n)
        {
            let outer = sc.parent.unwrap_or(0);
            if p == 0 && (n == "self" || n == "cls") && is_class(file, outer) {
                return Some((file, outer));
            }
            let ann = sc.params[p].annotation.as_ref()?;
            return match program.resolve(file, outer, ann) {
                Target::Def { file: f, scope: s } if is_class(f, s) => Some((f, s)),
                _ => None,
            };
        }
    }
    // `Store().save(...)`: a method called on a fresh instance.
    if let Expr::Call(c) = base {
        return match program.resolve(file, scope, &c.func) {
            Target::Def {
                file: cf,
                scope: cs,
            } if is_class(cf, cs) => Some((cf, cs)),
            _ => None,
        };
    }
    match program.resolve(file, scope, base) {
        Target::Value {
            file: f,
            scope: s,
            value: Expr::Call(c),
            ..
        } => match program.resolve(f, s, &c.func) {
            Target::Def {
                file: cf,
                scope: cs,
            } if is_class(cf, cs) => Some((cf, cs)),
            _ => None,
        },
        _ => None,
    }
}

/// The first-party function a call of `func` (seen in `scope` of `file`)
/// goes to, and how many leading parameters the call does not pass: one
/// for a method called on an instance (`self`), none otherwise.
pub fn called_function(
    program: &Program,
    file: usize,
    scope: u32,
    func: &Expr,
) -> Option<(usize, u32, usize)> {
    if let Target::Def { file: f, scope: s } = program.resolve(file, scope, func) {
        let sc = program.scope(f, s)?;
        let is_method = program
            .scope(f, sc.parent?)
            .is_some_and(|p| p.kind == ScopeKind::Class);
        let skip = usize::from(is_method && matches!(func, Expr::Attr(..)) && !is_static(sc));
        return (sc.kind == ScopeKind::Function).then_some((f, s, skip));
    }
    let Expr::Attr(base, m) = func else {
        return None;
    };
    // `service.run(x)` on an instance of a first-party class.
    if let Some((cf, cs)) = instance_class(program, file, scope, base)
        && let Some(method) = program.method(cf, cs, m)
    {
        let msc = program.scope(cf, method)?;
        return Some((cf, method, usize::from(!is_static(msc))));
    }
    // `self.helper(x)` inside a method of the same class.
    let Expr::Name(me) = &**base else {
        return None;
    };
    let sc = program.scope(file, scope)?;
    if sc.params.first().map(|p| &p.name) != Some(me) {
        return None;
    }
    let class = sc.parent?;
    let method = program.method(file, class, m)?;
    let msc = program.scope(file, method)?;
    Some((file, method, usize::from(!is_static(msc))))
}

/// The expression a call passes for parameter `index` of `params`, when
/// the call leaves out the first `skip` parameters: the positional
/// argument in that place (before any `*args`), else the keyword argument
/// of that name.
pub fn argument<'c>(
    call: &'c Call,
    params: &[Param],
    index: usize,
    skip: usize,
) -> Option<&'c Expr> {
    let name = &params.get(index)?.name;
    let position = index.checked_sub(skip);
    let positional = position.and_then(|i| {
        let before_star = call
            .args
            .iter()
            .position(|a| matches!(a, Expr::Starred(_)))
            .unwrap_or(call.args.len());
        (i < before_star).then(|| &call.args[i])
    });
    positional.or_else(|| call.kwarg(name))
}

pub fn is_static(sc: &Scope) -> bool {
    sc.decorators
        .iter()
        .any(|d| d.dotted().is_some_and(|n| n.ends_with("staticmethod")))
}

/// The function parameter `name` is, looking out from `scope` the way
/// Python does (a class body does not enclose its methods).
pub fn param_of<'a>(
    program: &'a Program,
    file: usize,
    scope: u32,
    name: &str,
) -> Option<(u32, &'a Param)> {
    let mut cur = Some(scope);
    while let Some(s) = cur {
        if s == 0 {
            break;
        }
        let sc = program.scope(file, s)?;
        if sc.kind == ScopeKind::Function
            && let Some(param) = sc.params.iter().find(|x| x.name == name)
        {
            return Some((s, param));
        }
        cur = sc.parent;
    }
    None
}

/// The last name of a called expression: `get` for `client.get`.
pub fn last_name(func: &Expr) -> Option<&str> {
    match func {
        Expr::Name(n) => Some(n),
        Expr::Attr(_, a) => Some(a),
        _ => None,
    }
}

/// The name an assignment in `stmts` binds the value of `call` to
/// (`client = Client()`, `async with Client() as client`).
pub fn bound_name(stmts: &[Stmt], call: &Call) -> Option<String> {
    stmts.iter().find_map(|st| {
        let Stmt::Assign {
            line,
            targets,
            value: Some(v),
            ..
        } = st
        else {
            return None;
        };
        if *line > call.line {
            return None;
        }
        let v = match v {
            Expr::Await(e) => e,
            e => e,
        };
        match v {
            Expr::Call(c) if **c == *call => targets.first().and_then(Expr::dotted),
            _ => None,
        }
    })
}
