//! Folding expressions into strings: prefixes, task names, Redis keys.
//!
//! [`Program::eval_str`] follows names across modules and folds literals,
//! f-strings, `+`, `%`, `.format(...)`, `"sep".join([...])` and small
//! helper functions that return a string. A part that is only known at run
//! time becomes a `{}` hole, so `f"job:{job_id}:progress"` and
//! `"job:%s:progress" % jid` both read `job:{}:progress`. Nothing is
//! guessed: a value that is not a string at all is [`StrValue::Dynamic`]
//! with the reason.

use schemars::JsonSchema;
use serde::Serialize;

use super::Program;
use super::symbols::Target;
use crate::report::render_expr;
use std::collections::HashMap;

use crate::scan::facts::{BinOp, Expr, FPart, ScopeKind, Stmt};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StrValue {
    /// Fully known.
    Known {
        value: String,
        /// Set when the value rests on an assumption, such as the default
        /// of a settings field that the environment may override.
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// Known around run-time parts, which read `{}`.
    Pattern { value: String },
    /// Not known statically.
    Dynamic { reason: String },
}

/// How the stand-in for a value bound outside the function's own
/// assignments (a parameter, a loop variable, `+=`) ends.
const FROM_OUTSIDE: &str = "from the caller or a loop";

impl StrValue {
    pub fn known(s: impl Into<String>) -> Self {
        StrValue::Known {
            value: s.into(),
            note: None,
        }
    }

    fn dynamic(reason: impl Into<String>) -> Self {
        StrValue::Dynamic {
            reason: reason.into(),
        }
    }

    /// The literal text, with `{}` for holes; `None` when dynamic.
    pub fn text(&self) -> Option<&str> {
        match self {
            StrValue::Known { value, .. } | StrValue::Pattern { value } => Some(value),
            StrValue::Dynamic { .. } => None,
        }
    }

    pub fn as_known(&self) -> Option<&str> {
        match self {
            StrValue::Known { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Text of a known value or a pattern, with dynamic parts as one hole.
    fn piece(&self) -> String {
        self.text().map_or_else(|| "{}".to_string(), String::from)
    }

    fn note(&self) -> Option<String> {
        match self {
            StrValue::Known { note, .. } => note.clone(),
            _ => None,
        }
    }
}

/// Joins pieces: known if every piece is known, else a pattern.
fn concat(parts: &[StrValue]) -> StrValue {
    let text: String = parts.iter().map(StrValue::piece).collect();
    if parts.iter().all(|p| matches!(p, StrValue::Known { .. })) {
        let note = parts.iter().find_map(StrValue::note);
        StrValue::Known { value: text, note }
    } else {
        StrValue::Pattern { value: text }
    }
}

const MAX_DEPTH: u32 = 16;

impl Program {
    /// Folds `expr`, seen in `scope` of `file`, into a string.
    pub fn eval_str(&self, file: usize, scope: u32, expr: &Expr) -> StrValue {
        self.eval(file, scope, expr, 0)
    }

    fn eval(&self, file: usize, scope: u32, expr: &Expr, depth: u32) -> StrValue {
        if depth > MAX_DEPTH {
            return StrValue::dynamic("too many indirections");
        }
        let d = depth + 1;
        match expr {
            Expr::Str(s) => StrValue::known(s.clone()),
            Expr::FStr(parts) => {
                let pieces: Vec<StrValue> = parts
                    .iter()
                    .map(|p| match p {
                        FPart::Lit(l) => StrValue::known(l.clone()),
                        FPart::Hole(h) => match self.eval(file, scope, h, d) {
                            StrValue::Dynamic { .. } => StrValue::Pattern { value: "{}".into() },
                            v => v,
                        },
                    })
                    .collect();
                concat(&pieces)
            }
            Expr::BinOp(l, BinOp::Add, r) => {
                let (l, r) = (self.eval(file, scope, l, d), self.eval(file, scope, r, d));
                if matches!(
                    (&l, &r),
                    (StrValue::Dynamic { .. }, StrValue::Dynamic { .. })
                ) {
                    return StrValue::dynamic(format!(
                        "`{}` is computed at run time",
                        render_expr(expr)
                    ));
                }
                concat(&[l, r])
            }
            Expr::BinOp(l, BinOp::Mod, r) => {
                let fmt = self.eval(file, scope, l, d);
                let Some(fmt_text) = fmt.text() else {
                    return fmt;
                };
                let args: Vec<StrValue> = match r.as_ref() {
                    Expr::Tuple(items) => {
                        items.iter().map(|i| self.eval(file, scope, i, d)).collect()
                    }
                    other => vec![self.eval(file, scope, other, d)],
                };
                percent_format(fmt_text, &args)
            }
            Expr::Name(_) | Expr::Attr(..) | Expr::OneOf(_) => self.eval_ref(file, scope, expr, d),
            Expr::Call(call) => self.eval_call(file, scope, call, d),
            Expr::Num(n) => StrValue::known(n.clone()),
            Expr::Subscript(base, keys)
                if base.dotted().is_some_and(|b| b.ends_with("environ")) =>
            {
                match keys.first().and_then(Expr::as_str) {
                    Some(name) => StrValue::dynamic(format!("environment variable {name}")),
                    None => StrValue::dynamic("an environment variable chosen at run time"),
                }
            }
            // The stand-in `alternatives` adds for a parameter or a loop.
            Expr::Other(text) if text.ends_with(FROM_OUTSIDE) => {
                StrValue::dynamic(text.to_string())
            }
            _ => StrValue::dynamic(format!("`{}` is not a string", render_expr(expr))),
        }
    }

    /// The values a local name may hold where it is used, when there are
    /// several: it is assigned more than once in its function (on
    /// different branches, or a parameter reassigned), or it is the
    /// variable of a loop over a literal collection. Each value comes with
    /// the file and scope it is written in; `None` for a name with one
    /// binding (or none), which [`Program::resolve`] answers.
    pub fn alternatives(
        &self,
        file: usize,
        scope: u32,
        expr: &Expr,
    ) -> Option<Vec<(usize, u32, Expr)>> {
        let found = self.alternatives_of(file, scope, expr)?;
        // `a if c else b` among them stands for both branches.
        let mut out = Vec::new();
        for (f, s, e) in found {
            match e {
                Expr::OneOf(items) => out.extend(items.into_iter().map(|i| (f, s, i))),
                e => out.push((f, s, e)),
            }
        }
        Some(out)
    }

    fn alternatives_of(
        &self,
        file: usize,
        scope: u32,
        expr: &Expr,
    ) -> Option<Vec<(usize, u32, Expr)>> {
        if let Expr::OneOf(items) = expr {
            return Some(items.iter().map(|i| (file, scope, i.clone())).collect());
        }
        let Expr::Name(name) = expr else { return None };
        let sc = self.scope(file, scope)?;
        if sc.kind != ScopeKind::Function {
            return None;
        }
        let mut out: Vec<(usize, u32, Expr)> = Vec::new();
        let mut loops = Vec::new();
        let mut augmented = false;
        for st in &sc.stmts {
            match st {
                Stmt::Assign {
                    targets,
                    value,
                    augmented: aug,
                    ..
                } if targets
                    .iter()
                    .any(|t| matches!(t, Expr::Name(n) if n == name)) =>
                {
                    if *aug {
                        augmented = true;
                    } else if let Some(v) = value {
                        out.push((file, scope, v.clone()));
                    }
                }
                Stmt::For { line, target, .. } if matches!(&**target, Expr::Name(n) if n == name) =>
                {
                    loops.push(*line);
                }
                _ => {}
            }
        }
        let is_param = sc.params.iter().any(|p| p.name == name);
        if out.is_empty() && loops.len() == 1 && !is_param {
            let values = super::unroll::loop_values(self, file, scope, name, loops[0])?;
            return Some(
                values
                    .into_iter()
                    .map(|b| (b.file, b.scope, b.expr))
                    .collect(),
            );
        }
        let bindings = out.len() + loops.len() + usize::from(is_param) + usize::from(augmented);
        if bindings < 2 {
            // One binding: alternatives only when it is itself a choice.
            return match out.as_slice() {
                [(_, _, Expr::OneOf(_))] if bindings == 1 => Some(out),
                _ => None,
            };
        }
        if is_param || augmented || !loops.is_empty() {
            // A value no fold can read stands for the parameter, the
            // augmented assignment or the loop.
            out.push((
                file,
                scope,
                Expr::Other(compact_str::format_compact!("`{name}` {FROM_OUTSIDE}")),
            ));
        }
        Some(out)
    }

    fn eval_ref(&self, file: usize, scope: u32, expr: &Expr, d: u32) -> StrValue {
        if let Some(alts) = self.alternatives(file, scope, expr) {
            let values: Vec<StrValue> = alts
                .iter()
                .map(|(f, s, e)| self.eval(*f, *s, e, d))
                .collect();
            let texts: Vec<Option<&str>> = values.iter().map(StrValue::text).collect();
            if texts.iter().all(|t| t.is_some() && *t == texts[0]) {
                return values.into_iter().next().expect("one value at least");
            }
            let known: Vec<String> = values
                .iter()
                .filter_map(|v| {
                    v.text().map(|t| {
                        if t.is_empty() {
                            "an empty string".to_string()
                        } else {
                            format!("`{t}`")
                        }
                    })
                })
                .take(4)
                .collect();
            let mut reasons: Vec<&str> = values
                .iter()
                .filter_map(|v| match v {
                    StrValue::Dynamic { reason } => Some(reason.as_str()),
                    _ => None,
                })
                .collect();
            reasons.dedup();
            let name = render_expr(expr);
            return StrValue::dynamic(if known.is_empty() {
                format!(
                    "`{name}` holds one of {} values, none known here: {}",
                    values.len(),
                    reasons
                        .iter()
                        .take(2)
                        .copied()
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            } else if reasons.is_empty() {
                format!("`{name}` holds one of several values: {}", known.join(", "))
            } else {
                format!(
                    "`{name}` holds one of several values: {}, or {}",
                    known.join(", "),
                    reasons.join("; ")
                )
            });
        }
        match self.resolve(file, scope, expr) {
            Target::Value {
                file: f,
                scope: s,
                value,
                ..
            } => self.eval(f, s, value, d),
            Target::External(path) => {
                StrValue::dynamic(format!("`{path}` comes from outside the analysed code"))
            }
            Target::Unknown => {
                // `self.PREFIX`: a class attribute (or one set in a method)
                // of the method's own class or a base class, when every
                // place that sets it agrees.
                if let Expr::Attr(base, attr) = expr {
                    let values = super::calls::self_attr_values(self, file, scope, base, attr);
                    if !values.is_empty() {
                        let folded: Vec<StrValue> = values
                            .iter()
                            .map(|(f, s, v)| self.eval(*f, *s, v, d))
                            .collect();
                        if folded.iter().all(|v| v.text().is_some() && v == &folded[0]) {
                            return folded.into_iter().next().expect("one value at least");
                        }
                    }
                }
                // `settings.api_prefix` where `settings = Settings()`: the
                // class-level default of a settings field.
                if let Expr::Attr(base, attr) = expr
                    && let Some(v) = self.instance_default(file, scope, base, attr, d)
                {
                    return v;
                }
                StrValue::dynamic(format!("`{}` is only known at run time", render_expr(expr)))
            }
            _ => StrValue::dynamic(format!("`{}` is not a string", render_expr(expr))),
        }
    }

    /// The class-level default of `attr` on `base`, when `base` is an
    /// instance of a first-party class built with no arguments naming it.
    fn instance_default(
        &self,
        file: usize,
        scope: u32,
        base: &Expr,
        attr: &str,
        d: u32,
    ) -> Option<StrValue> {
        let class = match self.resolve(file, scope, base) {
            Target::Value {
                file: f,
                scope: s,
                value: Expr::Call(c),
                ..
            } => self.resolve(f, s, &c.func),
            // `get_settings().api_prefix` with a function returning an instance.
            _ => match base {
                Expr::Call(c) => self.returned_class(file, scope, &c.func)?,
                _ => return None,
            },
        };
        let Target::Def {
            file: cf,
            scope: cs,
        } = class
        else {
            return None;
        };
        let sc = self.scope(cf, cs)?;
        if sc.kind != ScopeKind::Class {
            return None;
        }
        for st in &sc.stmts {
            let Stmt::Assign {
                targets,
                value: Some(v),
                ..
            } = st
            else {
                continue;
            };
            if !targets
                .iter()
                .any(|t| matches!(t, Expr::Name(n) if n == attr))
            {
                continue;
            }
            // `Field("x", ...)` or `Field(default="x")`.
            let v = match v {
                Expr::Call(c) if c.func.dotted().is_some_and(|f| f.ends_with("Field")) => {
                    c.arg(0, "default")?
                }
                other => other,
            };
            let value = self.eval(cf, cs, v, d);
            let class_name = &sc.name;
            return Some(match value {
                StrValue::Known { value, .. } => StrValue::Known {
                    value,
                    note: Some(format!(
                        "default of `{class_name}.{attr}`; the environment may override it"
                    )),
                },
                other => other,
            });
        }
        None
    }

    fn returned_class(&self, file: usize, scope: u32, func: &Expr) -> Option<Target<'_>> {
        let Target::Def { file: f, scope: s } = self.resolve(file, scope, func) else {
            return None;
        };
        let sc = self.scope(f, s)?;
        sc.stmts.iter().find_map(|st| match st {
            Stmt::Return {
                value: Some(Expr::Call(c)),
                ..
            } => Some(self.resolve(f, s, &c.func)),
            _ => None,
        })
    }

    /// Why `str(Class.MEMBER)` is not the member's value: `Enum.__str__`
    /// gives `Class.MEMBER`, even with `str` mixed in, unless the class is
    /// a `StrEnum` or defines `__str__` somewhere in its first-party chain.
    /// `None` when `member` is no attribute of a first-party enum-like class
    /// or when its `str()` is its value.
    fn enum_str(&self, file: usize, scope: u32, member: &Expr) -> Option<String> {
        let Expr::Attr(class, _) = member else {
            return None;
        };
        let Target::Def {
            file: cf,
            scope: cs,
        } = self.resolve(file, scope, class)
        else {
            return None;
        };
        let plain_enum = self.class_extends(cf, cs, &["enum.Enum", "enum.IntEnum"])
            && !self.class_extends(cf, cs, &["enum.StrEnum"]);
        if !plain_enum || self.method_def(cf, cs, "__str__").is_some() {
            return None;
        }
        Some(format!(
            "`str({})` is the member's name with its class, not its value (`Enum.__str__`)",
            render_expr(member)
        ))
    }

    fn eval_call(
        &self,
        file: usize,
        scope: u32,
        call: &crate::scan::facts::Call,
        d: u32,
    ) -> StrValue {
        // "sep".join([...]) and "...{}...".format(...)
        if let Expr::Attr(recv, method) = &call.func {
            match method.as_str() {
                "join" => {
                    let sep = self.eval(file, scope, recv, d);
                    if let (Some(sep), Some(items)) =
                        (sep.as_known(), call.args.first().and_then(Expr::elements))
                    {
                        let mut parts = Vec::new();
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                parts.push(StrValue::known(sep));
                            }
                            parts.push(match self.eval(file, scope, item, d) {
                                StrValue::Dynamic { .. } => {
                                    StrValue::Pattern { value: "{}".into() }
                                }
                                v => v,
                            });
                        }
                        return concat(&parts);
                    }
                }
                "format" => {
                    let fmt = self.eval(file, scope, recv, d);
                    if let Some(text) = fmt.text() {
                        let args: Vec<StrValue> = call
                            .args
                            .iter()
                            .map(|a| self.eval(file, scope, a, d))
                            .collect();
                        let kwargs: Vec<(String, StrValue)> = call
                            .kwargs
                            .iter()
                            .filter_map(|k| {
                                Some((
                                    k.name.as_ref()?.to_string(),
                                    self.eval(file, scope, &k.value, d),
                                ))
                            })
                            .collect();
                        return brace_format(text, &args, &kwargs);
                    }
                }
                _ => {}
            }
        }
        let callee = call.func.dotted().unwrap_or_default();
        if let Some(v) = env_lookup(&callee, call) {
            return v;
        }
        // `int(os.getenv("PORT", "6379"))`, `str(DB_INDEX)`: the builtin
        // conversion of a value known as text is that text.
        if matches!(callee.as_str(), "int" | "str")
            && let [only] = &call.args[..]
            && call.kwargs.is_empty()
            && matches!(self.resolve(file, scope, &call.func), Target::Unknown)
        {
            if callee == "str"
                && let Some(reason) = self.enum_str(file, scope, only)
            {
                return StrValue::dynamic(reason);
            }
            let inner = self.eval(file, scope, only, d);
            let keeps = match inner.as_known() {
                Some(text) => callee == "str" || text.trim().parse::<i64>().is_ok(),
                None => false,
            };
            if keeps {
                return inner;
            }
        }
        // A first-party helper that returns a string built from its
        // parameters: its return expression, with parameters as holes.
        if let Target::Def { file: f, scope: s } = self.resolve(file, scope, &call.func)
            && let Some(sc) = self.scope(f, s)
            && sc.kind == ScopeKind::Function
        {
            let returns: Vec<&Expr> = sc
                .stmts
                .iter()
                .filter_map(|st| match st {
                    Stmt::Return { value: Some(v), .. } => Some(v),
                    _ => None,
                })
                .collect();
            if let [only] = returns.as_slice() {
                return match self.eval(f, s, only, d) {
                    StrValue::Dynamic { reason } => StrValue::Dynamic { reason },
                    v => v,
                };
            }
        }
        StrValue::dynamic(format!(
            "`{}` is computed at run time",
            render_expr(&Expr::Call(std::sync::Arc::new(call.clone())))
        ))
    }
}

/// `os.environ["X"]`-style reads are recognised by [`Program::eval_str`] on
/// subscripts; this handles the call forms `os.getenv("X")` and
/// `os.environ.get("X", default)`: the default, noted as such, or dynamic
/// without one.
fn env_lookup(callee: &str, call: &crate::scan::facts::Call) -> Option<StrValue> {
    if !(callee.ends_with("getenv") || callee.ends_with("environ.get")) {
        return None;
    }
    let name = call.args.first()?.as_str()?;
    // `os.getenv("REDIS_PORT", 6379)`: a number default reads as its text.
    let default = call
        .args
        .get(1)
        .or_else(|| call.kwarg("default"))
        .and_then(|e| match e {
            Expr::Num(n) => Some(n.as_str()),
            e => e.as_str(),
        });
    // With a default, the default is what runs unless the environment
    // says otherwise: the same footing as a settings field's default.
    Some(match default {
        Some(d) => StrValue::Known {
            value: d.to_string(),
            note: Some(format!(
                "default of environment variable {name}, which may override it"
            )),
        },
        None => StrValue::dynamic(format!("environment variable {name}")),
    })
}

/// `"a:%s:%d" % (x, y)`.
fn percent_format(fmt: &str, args: &[StrValue]) -> StrValue {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut next = args.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        // Skip flags, width and precision up to the conversion letter.
        let mut spec = String::new();
        while let Some(&n) = chars.peek() {
            chars.next();
            spec.push(n);
            if n.is_ascii_alphabetic() || n == '%' {
                break;
            }
        }
        if spec == "%" {
            lit.push('%');
            continue;
        }
        parts.push(StrValue::known(std::mem::take(&mut lit)));
        parts.push(match next.next() {
            Some(StrValue::Dynamic { .. }) | None => StrValue::Pattern { value: "{}".into() },
            Some(v) => v.clone(),
        });
    }
    parts.push(StrValue::known(lit));
    concat(&parts)
}

/// `"a:{}:{name}".format(x, name=y)`.
fn brace_format(fmt: &str, args: &[StrValue], kwargs: &[(String, StrValue)]) -> StrValue {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut auto = 0;
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                lit.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                lit.push('}');
            }
            '{' => {
                let mut field = String::new();
                for n in chars.by_ref() {
                    if n == '}' {
                        break;
                    }
                    field.push(n);
                }
                let name = field.split([':', '!']).next().unwrap_or("").to_string();
                let value = if name.is_empty() {
                    auto += 1;
                    args.get(auto - 1)
                } else if let Ok(i) = name.parse::<usize>() {
                    args.get(i)
                } else {
                    kwargs.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
                };
                parts.push(StrValue::known(std::mem::take(&mut lit)));
                parts.push(match value {
                    Some(StrValue::Dynamic { .. }) | None => {
                        StrValue::Pattern { value: "{}".into() }
                    }
                    Some(v) => v.clone(),
                });
            }
            other => lit.push(other),
        }
    }
    parts.push(StrValue::known(lit));
    concat(&parts)
}

/// An expression that folds back to `v` in any scope; `None` for dynamic
/// values, which are better left as the parameter (a hole).
pub fn literal_expr(v: &StrValue) -> Option<Expr> {
    match v {
        StrValue::Known { value, .. } => Some(Expr::Str(value.into())),
        StrValue::Pattern { value } => {
            let mut parts = Vec::new();
            for (i, lit) in value.split("{}").enumerate() {
                if i > 0 {
                    parts.push(FPart::Hole(Expr::Other("run-time value".into())));
                }
                if !lit.is_empty() {
                    parts.push(FPart::Lit(lit.into()));
                }
            }
            Some(Expr::FStr(parts))
        }
        StrValue::Dynamic { .. } => None,
    }
}

/// `e` with the names in `map` replaced; a key `obj.attr` replaces that
/// attribute of the name `obj` (`self.prefix`).
pub fn substitute(e: &Expr, map: &HashMap<&str, Expr>) -> Expr {
    if map.is_empty() {
        return e.clone();
    }
    let sub = |x: &Expr| substitute(x, map);
    match e {
        Expr::Name(n) => map.get(n.as_str()).cloned().unwrap_or_else(|| e.clone()),
        Expr::Attr(base, attr) => match &**base {
            Expr::Name(n) => map
                .get(format!("{n}.{attr}").as_str())
                .cloned()
                .unwrap_or_else(|| e.clone()),
            _ => e.clone(),
        },
        Expr::FStr(parts) => Expr::FStr(
            parts
                .iter()
                .map(|p| match p {
                    FPart::Hole(h) => FPart::Hole(sub(h)),
                    lit => lit.clone(),
                })
                .collect(),
        ),
        Expr::BinOp(l, op, r) => Expr::BinOp(Box::new(sub(l)), *op, Box::new(sub(r))),
        Expr::Tuple(v) => Expr::Tuple(v.iter().map(sub).collect()),
        Expr::List(v) => Expr::List(v.iter().map(sub).collect()),
        Expr::Call(c) => {
            let mut c2 = (**c).clone();
            c2.args = c.args.iter().map(sub).collect();
            for k in &mut c2.kwargs {
                k.value = sub(&k.value);
            }
            // The receiver of `"...".format(x)` or `sep.join(...)`.
            if let Expr::Attr(recv, m) = &c.func {
                c2.func = Expr::Attr(Box::new(sub(recv)), m.clone());
            }
            Expr::Call(std::sync::Arc::new(c2))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_and_brace_formats_leave_holes() {
        let dynamic = StrValue::dynamic("x");
        assert_eq!(
            percent_format("job:%s:progress", std::slice::from_ref(&dynamic)).text(),
            Some("job:{}:progress")
        );
        assert_eq!(
            percent_format("100%% of %d", &[StrValue::known("3")]).as_known(),
            Some("100% of 3")
        );
        assert_eq!(
            brace_format("repo:{}:status", &[dynamic], &[]).text(),
            Some("repo:{}:status")
        );
        assert_eq!(
            brace_format("{a}-{{x}}", &[], &[("a".into(), StrValue::known("k"))]).as_known(),
            Some("k-{x}")
        );
    }
}
