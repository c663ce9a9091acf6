//! Loops over literal collections, unrolled.
//!
//! Applications often register routers in a loop (and track events or
//! build keys in one): `for r in ROUTERS:
//! app.include_router(r)`, `for prefix, sub in SUBAPPS.items():
//! app.mount(prefix, sub)`, `for p, r in [("/a", a), ("/b", b)]: ...`.
//! When the collection is a literal (here or in another module), each pass
//! of the loop is known: [`loop_bindings`] gives, for every pass, what the
//! loop variables stand for, each value with the file and scope it is
//! written in so that names inside it resolve where they were written.

use std::collections::HashMap;

use crate::graph::values::{literal_expr, substitute};
use crate::graph::{Program, Target};
use crate::scan::facts::{Context, Expr, Stmt};

/// A value a loop variable takes: the expression and where it is written.
#[derive(Debug, Clone)]
pub struct Bound {
    pub file: usize,
    pub scope: u32,
    pub expr: Expr,
}

/// What each loop variable stands for in one pass.
pub type Bindings = HashMap<String, Bound>;

/// Passes through a collection longer than this are not unrolled.
const MAX_PASSES: usize = 256;
const MAX_DEPTH: u32 = 12;

/// The values the loop variable `name` takes when it is the target of the
/// `for` at `loop_line` in `scope` of `file` and that loop runs over a
/// literal collection.
pub fn loop_values(
    program: &Program,
    file: usize,
    scope: u32,
    name: &str,
    loop_line: u32,
) -> Option<Vec<Bound>> {
    let ctx = Context::new(false, Some(loop_line), false);
    let passes = loop_bindings(program, file, scope, &ctx)?;
    passes.into_iter().map(|mut b| b.remove(name)).collect()
}

/// One set of bindings per pass of the innermost loop around a statement
/// with context `ctx` in `scope` of `file`; `None` when the statement is
/// in no loop or the loop runs over something not known statically.
pub fn loop_bindings(
    program: &Program,
    file: usize,
    scope: u32,
    ctx: &Context,
) -> Option<Vec<Bindings>> {
    let loop_line = ctx.loop_line()?;
    let sc = program.scope(file, scope)?;
    let (target, iter) = sc.stmts.iter().find_map(|st| match st {
        Stmt::For {
            line, target, iter, ..
        } if *line == loop_line => Some((target, iter)),
        _ => None,
    })?;
    let items = elements(program, file, scope, iter, 0)?;
    // An empty literal is usually filled at run time in ways not seen
    // here; a loop over nothing registers nothing either way.
    if items.is_empty() || items.len() > MAX_PASSES {
        return None;
    }
    let mut passes = Vec::with_capacity(items.len());
    for item in items {
        let mut b = Bindings::new();
        if !destructure(program, target, item, &mut b, 0) {
            return None;
        }
        passes.push(b);
    }
    Some(passes)
}

/// The elements a `for` loop over `iter` runs through, when `iter` is a
/// literal list, tuple, set or dict (or `.items()`, `.keys()`,
/// `.values()` of a dict), directly or through names.
fn elements(
    program: &Program,
    file: usize,
    scope: u32,
    iter: &Expr,
    depth: u32,
) -> Option<Vec<Bound>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let at = |e: &Expr| Bound {
        file,
        scope,
        expr: e.clone(),
    };
    match iter {
        Expr::List(items) | Expr::Tuple(items) | Expr::Set(items) => {
            if items.iter().any(|i| matches!(i, Expr::Starred(_))) {
                return None;
            }
            Some(items.iter().map(at).collect())
        }
        // Iterating a dict gives its keys.
        Expr::Dict(pairs) => dict_part(pairs, "keys").map(|v| v.iter().map(at).collect()),
        Expr::Call(c) if c.args.is_empty() && c.kwargs.is_empty() => {
            let Expr::Attr(base, method) = &c.func else {
                return None;
            };
            let (f, s, dict) = dict_of(program, file, scope, base, depth + 1)?;
            let Expr::Dict(pairs) = dict else {
                return None;
            };
            let at = |e: &Expr| Bound {
                file: f,
                scope: s,
                expr: e.clone(),
            };
            dict_part(pairs, method).map(|v| v.iter().map(at).collect())
        }
        Expr::Name(_) | Expr::Attr(..) => match program.resolve(file, scope, iter) {
            Target::Value {
                file: f,
                scope: s,
                line,
                value,
            } if !mutated(program, (f, line), iter) => elements(program, f, s, value, depth + 1),
            _ => None,
        },
        _ => None,
    }
}

/// Methods that change a list, set or dict in place.
const MUTATORS: [&str; 8] = [
    "append",
    "extend",
    "insert",
    "update",
    "add",
    "setdefault",
    "pop",
    "remove",
];

/// Whether the collection bound at `(file, line)`, reached through the
/// name `through`, is changed anywhere after it is built (`PLUGINS.append(x)`,
/// `ROUTERS += [...]`, `TABLE[k] = v`): then its literal is not what the
/// loop sees.
fn mutated(program: &Program, bound_at: (usize, u32), through: &Expr) -> bool {
    let name = match through {
        Expr::Name(n) => n.as_str(),
        Expr::Attr(_, n) => n.as_str(),
        _ => return true,
    };
    let same = |file: usize, scope: u32, e: &Expr| {
        let named = match e {
            Expr::Name(n) => n == name,
            Expr::Attr(_, n) => n == name,
            _ => false,
        };
        named
            && matches!(program.resolve(file, scope, e),
                Target::Value { file: f, line, .. } if (f, line) == bound_at)
    };
    for (file, _, facts) in program.analyzed() {
        for (si, sc) in facts.scopes.iter().enumerate() {
            let si = si as u32;
            for st in &sc.stmts {
                let hit = match st {
                    Stmt::Call { call, .. } => match &call.func {
                        Expr::Attr(base, m) => {
                            MUTATORS.contains(&m.as_str()) && same(file, si, base)
                        }
                        _ => false,
                    },
                    Stmt::Assign {
                        targets, augmented, ..
                    } => targets.iter().any(|t| match t {
                        Expr::Subscript(base, _) => same(file, si, base),
                        t => *augmented && same(file, si, t),
                    }),
                    _ => false,
                };
                if hit {
                    return true;
                }
            }
        }
    }
    false
}

/// The dict literal `expr` names, with where it is written.
fn dict_of<'p>(
    program: &'p Program,
    file: usize,
    scope: u32,
    expr: &'p Expr,
    depth: u32,
) -> Option<(usize, u32, &'p Expr)> {
    if depth > MAX_DEPTH {
        return None;
    }
    match expr {
        Expr::Dict(_) => Some((file, scope, expr)),
        Expr::Name(_) | Expr::Attr(..) => match program.resolve(file, scope, expr) {
            Target::Value {
                file: f,
                scope: s,
                value,
                ..
            } => dict_of(program, f, s, value, depth + 1),
            _ => None,
        },
        _ => None,
    }
}

/// `keys`, `values` or `items` (as `(key, value)` tuples) of a dict
/// literal without `**` unpacking.
fn dict_part(pairs: &[(Expr, Expr)], method: &str) -> Option<Vec<Expr>> {
    if pairs
        .iter()
        .any(|(k, _)| matches!(k, Expr::DoubleStarred(_)))
    {
        return None;
    }
    Some(match method {
        "keys" => pairs.iter().map(|(k, _)| k.clone()).collect(),
        "values" => pairs.iter().map(|(_, v)| v.clone()).collect(),
        "items" => pairs
            .iter()
            .map(|(k, v)| Expr::Tuple(vec![k.clone(), v.clone()]))
            .collect(),
        _ => return None,
    })
}

/// Binds the loop target to one element: a name takes it whole, a tuple
/// of names takes the parts of a tuple element.
fn destructure(
    program: &Program,
    target: &Expr,
    item: Bound,
    out: &mut Bindings,
    depth: u32,
) -> bool {
    match target {
        Expr::Name(n) => {
            out.insert(n.to_string(), item);
            true
        }
        Expr::Tuple(names) | Expr::List(names) => {
            let parts = match &item.expr {
                Expr::Tuple(p) | Expr::List(p) => p.clone(),
                // `for a, b in PAIRS` where an element is a name bound to
                // a tuple.
                Expr::Name(_) | Expr::Attr(..) if depth < MAX_DEPTH => {
                    return match program.resolve(item.file, item.scope, &item.expr) {
                        Target::Value {
                            file, scope, value, ..
                        } => destructure(
                            program,
                            target,
                            Bound {
                                file,
                                scope,
                                expr: value.clone(),
                            },
                            out,
                            depth + 1,
                        ),
                        _ => false,
                    };
                }
                _ => return false,
            };
            if parts.len() != names.len() {
                return false;
            }
            names.iter().zip(parts).all(|(n, p)| {
                destructure(
                    program,
                    n,
                    Bound {
                        file: item.file,
                        scope: item.scope,
                        expr: p,
                    },
                    out,
                    depth + 1,
                )
            })
        }
        _ => false,
    }
}

/// `expr` (written in the loop's scope) with each loop variable that folds
/// to a string replaced by that string, so that `PREFIX + name` can be
/// folded for one pass.
pub fn with_strings(program: &Program, expr: &Expr, b: &Bindings) -> Expr {
    if b.is_empty() {
        return expr.clone();
    }
    let map: HashMap<&str, Expr> = b
        .iter()
        .filter_map(|(name, v)| {
            let folded = program.eval_str(v.file, v.scope, &v.expr);
            literal_expr(&folded).map(|e| (name.as_str(), e))
        })
        .collect();
    substitute(expr, &map)
}

/// Where a loop variable's value is written, when `expr` is one; else
/// `expr` itself at `(file, scope)`.
pub fn resolve_bound<'e>(
    b: &'e Bindings,
    file: usize,
    scope: u32,
    expr: &'e Expr,
) -> (usize, u32, &'e Expr) {
    if let Expr::Name(n) = expr
        && let Some(v) = b.get(n.as_str())
    {
        return (v.file, v.scope, &v.expr);
    }
    (file, scope, expr)
}
