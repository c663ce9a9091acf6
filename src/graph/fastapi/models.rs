//! Pydantic models and settings classes: which classes they are, their
//! fields, and for settings the environment variable behind every field.
//!
//! Everything is read from class bodies; nothing is imported. Settings are
//! where static reading pays most: `env_prefix`, aliases and the v1/v2
//! differences decide which variable a field reads, and getting that wrong
//! sends someone to set `DEBUG` when the code reads `APP_DEBUG`. The rules
//! below follow pydantic-settings 2 (`_extract_field_info`) and pydantic 1
//! (`BaseSettings.Config.prepare_field`).

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::values::StrValue;
use crate::graph::{Program, Target};
use crate::report::render_expr;
use crate::scan::facts::{Call, Expr, Scope, ScopeKind, Stmt};

const MODEL_BASES: &[&str] = &[
    "pydantic.BaseModel",
    "pydantic.main.BaseModel",
    "pydantic.RootModel",
    "pydantic.root_model.RootModel",
    "pydantic.v1.BaseModel",
    "sqlmodel.SQLModel",
    "sqlmodel.main.SQLModel",
];

const SETTINGS_V2: &[&str] = &[
    "pydantic_settings.BaseSettings",
    "pydantic_settings.main.BaseSettings",
];

const SETTINGS_V1: &[&str] = &[
    "pydantic.BaseSettings",
    "pydantic.env_settings.BaseSettings",
    "pydantic.v1.BaseSettings",
    "pydantic.v1.env_settings.BaseSettings",
];

/// A `pydantic.BaseModel` subclass, direct or indirect.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Model {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
    /// Base classes as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<String>,
    /// Fields declared in this class body, in source order (inherited
    /// fields are on the base class's entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ModelField>,
    /// Where routes use it: as a request body, a response, or a message
    /// a websocket sends.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub used: Vec<ModelUse>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    Body,
    Response,
    WebsocketMessage,
}

/// One use of a model by a route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
pub struct ModelUse {
    pub role: ModelRole,
    /// `GET /path` or `WS /path`.
    pub route: String,
    /// Where the route is declared (for a websocket message, where it is
    /// sent), `file:line`.
    pub at: String,
}

/// Fills each model's [`Model::used`] from the routes.
pub fn record_uses(models: &mut [Model], routes: &[super::Route]) {
    let index: std::collections::HashMap<String, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.class.clone(), i))
        .collect();
    for r in routes {
        let label = super::route_label(r);
        let mut add = |class: &str, role: ModelRole, at: String| {
            if let Some(&i) = index.get(class) {
                let u = ModelUse {
                    role,
                    route: label.clone(),
                    at,
                };
                if !models[i].used.contains(&u) {
                    models[i].used.push(u);
                }
            }
        };
        let declared = format!("{}:{}", r.file, r.line);
        for p in &r.parameters {
            if let Some(m) = &p.model {
                add(m, ModelRole::Body, declared.clone());
            }
        }
        for m in &r.response_models {
            add(m, ModelRole::Response, declared.clone());
        }
        if let Some(ws) = &r.websocket {
            let file = r
                .handler_at
                .as_deref()
                .and_then(|h| h.rsplit_once(':'))
                .map_or(r.file.as_str(), |(f, _)| f);
            for s in &ws.sends {
                if let Some(m) = &s.model {
                    add(m, ModelRole::WebsocketMessage, format!("{file}:{}", s.line));
                }
            }
        }
    }
    for m in models.iter_mut() {
        m.used.sort();
    }
}

/// One annotated field of a model.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ModelField {
    pub name: String,
    /// The annotation as written.
    #[serde(rename = "type")]
    pub annotation: String,
    /// The default as written; absent when the field is required
    /// (no value, or `Field(...)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// `Field(default_factory=...)`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_factory: Option<String>,
    /// `Field(alias=...)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub line: u32,
}

/// A `BaseSettings` subclass.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SettingsClass {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<String>,
    /// Built on pydantic 1's `pydantic.BaseSettings` rather than
    /// pydantic-settings 2; the rules for aliases differ.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pydantic_v1: bool,
    /// The effective `env_prefix`, inherited from first-party base settings
    /// classes when not set here; absent when none is set (no prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_prefix: Option<StrValue>,
    /// `case_sensitive=True`. When false (the default) pydantic-settings
    /// matches variable names in any case; `env` names are then reported
    /// upper-case.
    pub case_sensitive: bool,
    /// `env_file`, each file as written or folded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_file: Vec<String>,
    // Known shortcoming: fields typed with a nested model are not expanded
    // into the `PREFIX_DB__HOST` names this delimiter gives them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_nested_delimiter: Option<String>,
    /// Every field, inherited ones first (they read the variables this
    /// class's prefix gives them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SettingsField>,
    /// Module-level `settings = Settings()`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<ModuleInstance>,
    /// Functions that build and return an instance (`get_settings`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<SettingsProvider>,
}

/// A settings field and the environment variables it reads.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SettingsField {
    #[serde(flatten)]
    pub field: ModelField,
    /// The variables read, in the order pydantic tries them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Why `env` is empty or partly unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_dynamic: Option<String>,
    /// Something about the field's variable that is easy to get wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_note: Option<String>,
    /// The first-party class that declares it, when it is not this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
}

/// A module-level `name = Class(...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ModuleInstance {
    pub file: String,
    pub line: u32,
    pub name: String,
}

/// A function returning a new settings instance.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SettingsProvider {
    /// `module:qualname`.
    pub function: String,
    pub file: String,
    pub line: u32,
    /// Decorated with `functools.lru_cache`/`cache`: one instance per
    /// process rather than one per call.
    pub cached: bool,
}

pub fn pydantic_models(program: &Program) -> Vec<Model> {
    let mut out = Vec::new();
    for (file, scope, sc) in classes(program) {
        if is_settings(program, file, scope).is_some()
            || !program.class_extends(file, scope, MODEL_BASES)
        {
            continue;
        }
        out.push(Model {
            class: program.def_ref(file, scope),
            file: program.files[file].path.clone(),
            line: sc.line,
            bases: sc.bases.iter().map(render).collect(),
            fields: own_fields(program, file, scope, sc),
            used: Vec::new(),
        });
    }
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

pub fn settings_classes(program: &Program) -> Vec<SettingsClass> {
    let instances = module_instances(program);
    let providers = providers(program);
    let mut out = Vec::new();
    for (file, scope, sc) in classes(program) {
        let Some(v1) = is_settings(program, file, scope) else {
            continue;
        };
        let chain = ancestry(program, file, scope);
        let config = Config::merged(program, &chain);
        let env_prefix = config
            .get("env_prefix")
            .map(|(f, s, e)| program.eval_str(*f, *s, e));
        let case_sensitive = config
            .get("case_sensitive")
            .is_some_and(|(_, _, e)| matches!(e, Expr::Bool(true)));
        let populate_by_name = ["populate_by_name", "validate_by_name"]
            .iter()
            .any(|k| matches!(config.get(k), Some((_, _, Expr::Bool(true)))));
        let env_file = config
            .get("env_file")
            .map(|(f, s, e)| env_files(program, *f, *s, e))
            .unwrap_or_default();
        let env_nested_delimiter = config
            .get("env_nested_delimiter")
            .map(|(f, s, e)| folded_or_rendered(program, *f, *s, e));
        let rules = EnvRules {
            prefix: env_prefix.as_ref(),
            case_sensitive,
            populate_by_name,
            v1,
        };
        let me = program.def_ref(file, scope);
        let fields = inherited_fields(program, &chain)
            .into_iter()
            .map(|i| {
                let mut sf = settings_field(program, i.file, i.scope, i.field, i.call, &rules);
                if i.owner != me {
                    sf.inherited_from = Some(i.owner);
                }
                sf
            })
            .collect();
        out.push(SettingsClass {
            class: me,
            file: program.files[file].path.clone(),
            line: sc.line,
            bases: sc.bases.iter().map(render).collect(),
            pydantic_v1: v1,
            env_prefix,
            case_sensitive,
            env_file,
            env_nested_delimiter,
            fields,
            instances: instances.get(&(file, scope)).cloned().unwrap_or_default(),
            providers: providers.get(&(file, scope)).cloned().unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

/// Every class scope, in file and source order.
fn classes(program: &Program) -> impl Iterator<Item = (usize, u32, &Scope)> {
    program.analyzed().flat_map(|(file, _, facts)| {
        facts
            .scopes
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == ScopeKind::Class)
            .map(move |(i, s)| (file, i as u32, s))
    })
}

/// `Some(true)` for a pydantic 1 settings class, `Some(false)` for
/// pydantic-settings 2, `None` for anything else.
fn is_settings(program: &Program, file: usize, scope: u32) -> Option<bool> {
    if program.class_extends(file, scope, SETTINGS_V2) {
        Some(false)
    } else if program.class_extends(file, scope, SETTINGS_V1) {
        Some(true)
    } else {
        None
    }
}

/// The class and its first-party ancestors, nearest first, each once: a
/// depth-first, left-to-right walk, which matches Python's MRO for the
/// single-inheritance chains settings classes use.
pub(super) fn ancestry(program: &Program, file: usize, scope: u32) -> Vec<(usize, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![(file, scope)];
    while let Some((f, s)) = stack.pop() {
        if out.contains(&(f, s)) || out.len() > 64 {
            continue;
        }
        out.push((f, s));
        let Some(sc) = program.scope(f, s) else {
            continue;
        };
        let parent = sc.parent.unwrap_or(0);
        let mut bases = Vec::new();
        for base in &sc.bases {
            let base = match base {
                Expr::Subscript(b, _) => b.as_ref(),
                b => b,
            };
            if let Target::Def { file, scope } = program.resolve(f, parent, base)
                && program
                    .scope(file, scope)
                    .is_some_and(|b| b.kind == ScopeKind::Class)
            {
                bases.push((file, scope));
            }
        }
        stack.extend(bases.into_iter().rev());
    }
    out
}

/// A field statement: the annotated assignment and, when its value is
/// `Field(...)`, that call.
type FieldSite<'p> = (&'p Stmt, Option<&'p Call>);

/// The annotated fields of one class body, in order.
fn field_sites<'p>(
    program: &Program,
    file: usize,
    scope: u32,
    sc: &'p Scope,
) -> Vec<FieldSite<'p>> {
    let mut out = Vec::new();
    for st in &sc.stmts {
        let Stmt::Assign {
            targets,
            annotation: Some(ann),
            value,
            augmented: false,
            ..
        } = st
        else {
            continue;
        };
        let [Expr::Name(name)] = &targets[..] else {
            continue;
        };
        // `model_config` is configuration, underscore names are private
        // attributes and `ClassVar`s belong to the class: none is a field.
        if name == "model_config"
            || name.starts_with('_')
            || is_class_var(program, file, scope, ann)
        {
            continue;
        }
        let call = match value {
            Some(Expr::Call(c)) if is_field_call(program, file, scope, &c.func) => Some(c.as_ref()),
            // `x: Annotated[str, Field(alias="X")] = "d"`.
            _ => match ann.as_ref() {
                Expr::Subscript(base, args)
                    if base.dotted().is_some_and(|b| b.ends_with("Annotated")) =>
                {
                    args.iter().skip(1).find_map(|a| match a {
                        Expr::Call(c) if is_field_call(program, file, scope, &c.func) => {
                            Some(c.as_ref())
                        }
                        _ => None,
                    })
                }
                _ => None,
            },
        };
        out.push((st, call));
    }
    out
}

fn own_fields(program: &Program, file: usize, scope: u32, sc: &Scope) -> Vec<ModelField> {
    field_sites(program, file, scope, sc)
        .into_iter()
        .filter_map(|(st, call)| model_field(program, file, scope, st, call))
        .collect()
}

/// A field found on a class or one of its bases.
struct Inherited<'p> {
    /// `module:qualname` of the declaring class.
    owner: String,
    file: usize,
    scope: u32,
    field: ModelField,
    call: Option<&'p Call>,
}

/// Fields of `chain` (nearest class first), base classes' fields first, a
/// redefinition replacing the inherited field in place as pydantic does.
fn inherited_fields<'p>(program: &'p Program, chain: &[(usize, u32)]) -> Vec<Inherited<'p>> {
    let mut out: Vec<Inherited<'p>> = Vec::new();
    for &(f, s) in chain.iter().rev() {
        let Some(sc) = program.scope(f, s) else {
            continue;
        };
        let owner = program.def_ref(f, s);
        for (st, call) in field_sites(program, f, s, sc) {
            let Some(field) = model_field(program, f, s, st, call) else {
                continue;
            };
            let entry = Inherited {
                owner: owner.clone(),
                file: f,
                scope: s,
                field,
                call,
            };
            match out.iter_mut().find(|e| e.field.name == entry.field.name) {
                Some(slot) => *slot = entry,
                None => out.push(entry),
            }
        }
    }
    out
}

fn model_field(
    program: &Program,
    file: usize,
    scope: u32,
    st: &Stmt,
    call: Option<&Call>,
) -> Option<ModelField> {
    let Stmt::Assign {
        line,
        targets,
        annotation: Some(ann),
        value,
        ..
    } = st
    else {
        return None;
    };
    let Some(Expr::Name(name)) = targets.first() else {
        return None;
    };
    let call_is_value =
        matches!((value, call), (Some(Expr::Call(v)), Some(c)) if std::ptr::eq(v.as_ref(), c));
    let default = if call_is_value {
        call.and_then(|c| c.arg(0, "default"))
    } else {
        value.as_ref()
    };
    let default = default.filter(|d| !is_ellipsis(d)).map(render);
    let default_factory = call.and_then(|c| c.kwarg("default_factory")).map(render);
    let alias = call
        .and_then(|c| c.kwarg("alias"))
        .map(|a| folded_or_rendered(program, file, scope, a));
    Some(ModelField {
        name: name.to_string(),
        annotation: render(ann),
        default,
        default_factory,
        alias,
        line: *line,
    })
}

struct EnvRules<'a> {
    prefix: Option<&'a StrValue>,
    case_sensitive: bool,
    populate_by_name: bool,
    v1: bool,
}

impl EnvRules<'_> {
    fn case(&self, name: &str) -> String {
        if self.case_sensitive {
            name.to_string()
        } else {
            name.to_uppercase()
        }
    }

    /// `env_prefix + name`, or why it cannot be written down.
    fn prefixed(&self, name: &str) -> Result<String, String> {
        match self.prefix {
            None => Ok(self.case(name)),
            Some(StrValue::Known { value, .. }) => Ok(self.case(&format!("{value}{name}"))),
            Some(StrValue::Pattern { value }) => Err(format!(
                "env_prefix is only partly known (`{value}`), so the variable is `{}`",
                self.case(&format!("{value}{name}"))
            )),
            Some(StrValue::Dynamic { reason }) => Err(format!("env_prefix is dynamic: {reason}")),
        }
    }
}

fn settings_field(
    program: &Program,
    file: usize,
    scope: u32,
    field: ModelField,
    call: Option<&Call>,
    rules: &EnvRules,
) -> SettingsField {
    let mut env = Vec::new();
    let mut env_dynamic = None;
    let mut env_note = None;
    let push_prefixed =
        |env: &mut Vec<String>, dynamic: &mut Option<String>| match rules.prefixed(&field.name) {
            Ok(n) => env.push(n),
            Err(why) => *dynamic = Some(why),
        };
    let kw = |name: &str| call.and_then(|c| c.kwarg(name));
    if rules.v1 {
        // pydantic 1 reads `env=` verbatim (no prefix) and ignores aliases.
        match kw("env") {
            Some(e) => match names_of(program, file, scope, e) {
                Ok(names) => env.extend(names.iter().map(|n| rules.case(n))),
                Err(why) => env_dynamic = Some(why),
            },
            None => {
                push_prefixed(&mut env, &mut env_dynamic);
                if field.alias.is_some() {
                    env_note = Some(
                        "pydantic 1 settings ignore `alias` for the environment; use `env=`"
                            .to_string(),
                    );
                }
            }
        }
    } else {
        // pydantic-settings 2: a validation alias (`alias=` sets one)
        // replaces the name and is not prefixed.
        let alias = kw("validation_alias").or_else(|| kw("alias"));
        match alias {
            Some(a) => {
                match names_of(program, file, scope, a) {
                    Ok(names) => env.extend(names.iter().map(|n| rules.case(n))),
                    Err(why) => env_dynamic = Some(why),
                }
                if rules.populate_by_name {
                    push_prefixed(&mut env, &mut env_dynamic);
                }
            }
            None => push_prefixed(&mut env, &mut env_dynamic),
        }
        if kw("env").is_some() {
            env_note =
                Some("`Field(env=...)` is pydantic 1; pydantic-settings 2 ignores it".to_string());
        }
    }
    SettingsField {
        field,
        env,
        env_dynamic,
        env_note,
        inherited_from: None,
    }
}

/// The variable names an `env=`/alias value gives: a string, a list or set
/// of strings, or `AliasChoices(...)`/`AliasPath(...)` (whose first
/// argument is the variable).
fn names_of(program: &Program, file: usize, scope: u32, e: &Expr) -> Result<Vec<String>, String> {
    let one = |e: &Expr| match program.eval_str(file, scope, e) {
        StrValue::Known { value, .. } => Ok(value),
        StrValue::Pattern { value } => {
            Err(format!("the variable name is only partly known: `{value}`"))
        }
        StrValue::Dynamic { reason } => Err(format!("the variable name is dynamic: {reason}")),
    };
    match e {
        Expr::List(items) | Expr::Tuple(items) | Expr::Set(items) => {
            items.iter().map(one).collect()
        }
        Expr::Call(c) => {
            let callee = c.func.dotted().unwrap_or_default();
            if callee.ends_with("AliasChoices") {
                c.args
                    .iter()
                    .map(|a| match a {
                        Expr::Call(p) => p
                            .args
                            .first()
                            .map_or_else(|| Err("an empty `AliasPath`".to_string()), one),
                        other => one(other),
                    })
                    .collect()
            } else if callee.ends_with("AliasPath") {
                c.args.first().map_or_else(
                    || Err("an empty `AliasPath`".to_string()),
                    |a| one(a).map(|n| vec![n]),
                )
            } else {
                one(e).map(|n| vec![n])
            }
        }
        other => one(other).map(|n| vec![n]),
    }
}

/// Configuration entries, each with the file and scope to read its value in.
struct Config<'p> {
    entries: HashMap<String, (usize, u32, &'p Expr)>,
}

impl<'p> Config<'p> {
    /// The configuration of `chain` (nearest class first): pydantic merges
    /// a class's config over its bases', key by key.
    fn merged(program: &'p Program, chain: &[(usize, u32)]) -> Config<'p> {
        let mut entries = HashMap::new();
        for &(f, s) in chain.iter().rev() {
            for (k, v) in own_config(program, f, s) {
                entries.insert(k, v);
            }
        }
        Config { entries }
    }

    fn get(&self, key: &str) -> Option<&(usize, u32, &'p Expr)> {
        self.entries.get(key)
    }
}

/// Config set on one class: class keywords, `model_config = ...` (a call
/// such as `SettingsConfigDict(...)` or a dict literal), and an inner v1
/// `class Config:`. Pydantic rejects a class mixing these, so their order
/// here never decides anything real.
///
/// Known shortcoming: a v1 `Config.fields = {"x": {"env": ...}}` mapping
/// is not read, only `Field(env=...)`.
fn own_config(program: &Program, file: usize, scope: u32) -> Vec<(String, (usize, u32, &Expr))> {
    let mut out = Vec::new();
    let Some(sc) = program.scope(file, scope) else {
        return out;
    };
    let parent = sc.parent.unwrap_or(0);
    for k in &sc.class_keywords {
        if let Some(name) = &k.name {
            out.push((name.to_string(), (file, parent, &k.value)));
        }
    }
    for st in &sc.stmts {
        let Stmt::Assign {
            targets,
            value: Some(value),
            ..
        } = st
        else {
            continue;
        };
        if !matches!(&targets[..], [Expr::Name(n)] if n == "model_config") {
            continue;
        }
        match value {
            Expr::Call(c) => {
                for k in &c.kwargs {
                    if let Some(name) = &k.name {
                        out.push((name.to_string(), (file, scope, &k.value)));
                    }
                }
            }
            Expr::Dict(pairs) => {
                for (k, v) in pairs {
                    if let Some(name) = k.as_str() {
                        out.push((name.to_string(), (file, scope, v)));
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(facts) = &program.files[file].facts {
        for (i, inner) in facts.scopes.iter().enumerate() {
            if inner.parent != Some(scope)
                || inner.kind != ScopeKind::Class
                || inner.name != "Config"
            {
                continue;
            }
            for st in &inner.stmts {
                if let Stmt::Assign {
                    targets,
                    value: Some(value),
                    augmented: false,
                    ..
                } = st
                    && let [Expr::Name(name)] = &targets[..]
                {
                    out.push((name.to_string(), (file, i as u32, value)));
                }
            }
        }
    }
    out
}

fn env_files(program: &Program, file: usize, scope: u32, e: &Expr) -> Vec<String> {
    match e {
        Expr::None => Vec::new(),
        Expr::List(items) | Expr::Tuple(items) => items
            .iter()
            .map(|i| folded_or_rendered(program, file, scope, i))
            .collect(),
        other => vec![folded_or_rendered(program, file, scope, other)],
    }
}

/// The string value when fully known, else the expression as written.
fn folded_or_rendered(program: &Program, file: usize, scope: u32, e: &Expr) -> String {
    match program.eval_str(file, scope, e) {
        StrValue::Known { value, .. } => value,
        _ => render(e),
    }
}

/// Module-level `name = Class(...)` for every first-party class, keyed by
/// the class's `(file, scope)`.
pub(crate) fn module_instances(program: &Program) -> HashMap<(usize, u32), Vec<ModuleInstance>> {
    let mut out: HashMap<(usize, u32), Vec<ModuleInstance>> = HashMap::new();
    for (file, rec, facts) in program.analyzed() {
        let Some(module) = facts.scopes.first() else {
            continue;
        };
        for st in &module.stmts {
            let Stmt::Assign {
                line,
                targets,
                value: Some(Expr::Call(c)),
                augmented: false,
                ..
            } = st
            else {
                continue;
            };
            let Some(name) = targets.iter().find_map(|t| match t {
                Expr::Name(n) => Some(n.to_string()),
                _ => None,
            }) else {
                continue;
            };
            if let Target::Def {
                file: cf,
                scope: cs,
            } = program.resolve(file, 0, &c.func)
                && program
                    .scope(cf, cs)
                    .is_some_and(|s| s.kind == ScopeKind::Class)
            {
                out.entry((cf, cs)).or_default().push(ModuleInstance {
                    file: rec.path.clone(),
                    line: *line,
                    name,
                });
            }
        }
    }
    out
}

/// Functions whose `return` builds a first-party class with a call, keyed
/// by the class.
fn providers(program: &Program) -> HashMap<(usize, u32), Vec<SettingsProvider>> {
    let mut out: HashMap<(usize, u32), Vec<SettingsProvider>> = HashMap::new();
    for (file, rec, facts) in program.analyzed() {
        for (i, sc) in facts.scopes.iter().enumerate() {
            if sc.kind != ScopeKind::Function {
                continue;
            }
            let scope = i as u32;
            let mut classes: Vec<(usize, u32)> = Vec::new();
            for st in &sc.stmts {
                if let Stmt::Return {
                    value: Some(Expr::Call(c)),
                    ..
                } = st
                    && let Target::Def {
                        file: cf,
                        scope: cs,
                    } = program.resolve(file, scope, &c.func)
                    && program
                        .scope(cf, cs)
                        .is_some_and(|s| s.kind == ScopeKind::Class)
                    && !classes.contains(&(cf, cs))
                {
                    classes.push((cf, cs));
                }
            }
            let parent = sc.parent.unwrap_or(0);
            let cached = sc.decorators.iter().any(|d| {
                let d = match d {
                    Expr::Call(c) => &c.func,
                    other => other,
                };
                matches!(
                    program.qualify(file, parent, d).as_deref(),
                    Some("functools.lru_cache" | "functools.cache")
                )
            });
            for class in classes {
                out.entry(class).or_default().push(SettingsProvider {
                    function: program.def_ref(file, scope),
                    file: rec.path.clone(),
                    line: sc.line,
                    cached,
                });
            }
        }
    }
    out
}

fn is_class_var(program: &Program, file: usize, scope: u32, ann: &Expr) -> bool {
    let base = match ann {
        Expr::Subscript(b, _) => b.as_ref(),
        b => b,
    };
    match program.qualify(file, scope, base).as_deref() {
        Some("typing.ClassVar" | "typing_extensions.ClassVar") => true,
        _ => base
            .dotted()
            .is_some_and(|d| d == "ClassVar" || d.ends_with(".ClassVar")),
    }
}

fn is_field_call(program: &Program, file: usize, scope: u32, func: &Expr) -> bool {
    match program.qualify(file, scope, func).as_deref() {
        Some(
            "pydantic.Field" | "pydantic.fields.Field" | "pydantic.v1.Field" | "sqlmodel.Field",
        ) => true,
        // An unresolved import (a vendored or re-exported `Field`) still
        // reads like pydantic's.
        None => func
            .dotted()
            .is_some_and(|d| d == "Field" || d.ends_with(".Field")),
        Some(_) => false,
    }
}

fn is_ellipsis(e: &Expr) -> bool {
    matches!(e, Expr::Other(k) if k == "ellipsis")
}

/// `render_expr`, with `...` written as Python writes it.
fn render(e: &Expr) -> String {
    if is_ellipsis(e) {
        "...".to_string()
    } else {
        render_expr(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_of(sources: &[(&str, &str)]) -> Vec<Model> {
        pydantic_models(&Program::from_sources(sources))
    }

    fn settings_of(sources: &[(&str, &str)]) -> Vec<SettingsClass> {
        settings_classes(&Program::from_sources(sources))
    }

    fn env_of(s: &SettingsClass) -> Vec<(String, Vec<String>)> {
        s.fields
            .iter()
            .map(|f| (f.field.name.clone(), f.env.clone()))
            .collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn models_found_directly_and_through_bases_in_other_modules() {
        let models = models_of(&[
            ("app/__init__.py", ""),
            (
                "app/base.py",
                "from pydantic import BaseModel\n\nclass Base(BaseModel):\n    id: int\n",
            ),
            (
                "app/models.py",
                "import pydantic\nfrom app.base import Base\nfrom sqlmodel import SQLModel\n\n\
                 class User(Base):\n    name: str\n\n\
                 class Direct(pydantic.BaseModel):\n    x: int = 1\n\n\
                 class Row(SQLModel, table=True):\n    pk: int\n\n\
                 class Plain:\n    y: int\n",
            ),
        ]);
        let found: Vec<(&str, &str, u32)> = models
            .iter()
            .map(|m| (m.class.as_str(), m.file.as_str(), m.line))
            .collect();
        assert_eq!(
            found,
            vec![
                ("app.base:Base", "app/base.py", 3),
                ("app.models:User", "app/models.py", 5),
                ("app.models:Direct", "app/models.py", 8),
                ("app.models:Row", "app/models.py", 11),
            ]
        );
        assert_eq!(models[1].bases, strs(&["Base"]));
        assert_eq!(models[1].fields.len(), 1);
        assert_eq!(models[1].fields[0].name, "name");
    }

    #[test]
    fn fields_keep_order_type_default_alias_and_skip_config_and_classvars() {
        let models = models_of(&[(
            "app/models.py",
            "from typing import ClassVar, Optional\nfrom pydantic import BaseModel, ConfigDict, Field\n\n\
             class Item(BaseModel):\n\
             \x20   model_config = ConfigDict(populate_by_name=True)\n\
             \x20   registry: ClassVar[dict] = {}\n\
             \x20   _secret: str = 'x'\n\
             \x20   name: str\n\
             \x20   price: float = 0.0\n\
             \x20   tags: list[str] = Field(default_factory=list)\n\
             \x20   sku: str = Field(..., alias=\"SKU\")\n\
             \x20   note: Optional[str] = Field(None, description=\"free text\")\n",
        )]);
        let f = &models[0].fields;
        type Row<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            u32,
        );
        let got: Vec<Row> = f
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.annotation.as_str(),
                    f.default.as_deref(),
                    f.default_factory.as_deref(),
                    f.alias.as_deref(),
                    f.line,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("name", "str", None, None, None, 8),
                ("price", "float", Some("0.0"), None, None, 9),
                ("tags", "list[str]", None, Some("list"), None, 10),
                ("sku", "str", None, None, Some("SKU"), 11),
                ("note", "Optional[str]", Some("None"), None, None, 12),
            ]
        );
    }

    #[test]
    fn field_inside_annotated_gives_alias_and_the_assigned_default() {
        let models = models_of(&[(
            "app/models.py",
            "from typing import Annotated\nfrom pydantic import BaseModel, Field\n\n\
             class Page(BaseModel):\n\
             \x20   size: Annotated[int, Field(alias=\"pageSize\", gt=0)] = 20\n",
        )]);
        let f = &models[0].fields[0];
        assert_eq!(
            f.annotation,
            "Annotated[int, Field(alias=\"pageSize\", gt=0)]"
        );
        assert_eq!(f.default.as_deref(), Some("20"));
        assert_eq!(f.alias.as_deref(), Some("pageSize"));
    }

    #[test]
    fn settings_are_not_models_and_read_prefixed_upper_case_variables() {
        let program = Program::from_sources(&[
            ("app/__init__.py", ""),
            (
                "app/config.py",
                "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n\
             class Settings(BaseSettings):\n\
             \x20   model_config = SettingsConfigDict(env_prefix=\"app_\", env_file=\".env\", env_nested_delimiter=\"__\")\n\
             \x20   debug: bool = False\n\
             \x20   redis_url: str = \"redis://localhost\"\n",
            ),
        ]);
        assert!(pydantic_models(&program).is_empty());
        let s = settings_classes(&program);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].class, "app.config:Settings");
        assert!(!s[0].pydantic_v1);
        assert!(!s[0].case_sensitive);
        assert_eq!(s[0].env_prefix, Some(StrValue::known("app_")));
        assert_eq!(s[0].env_file, strs(&[".env"]));
        assert_eq!(s[0].env_nested_delimiter.as_deref(), Some("__"));
        assert_eq!(
            env_of(&s[0]),
            vec![
                ("debug".to_string(), strs(&["APP_DEBUG"])),
                ("redis_url".to_string(), strs(&["APP_REDIS_URL"])),
            ]
        );
    }

    #[test]
    fn alias_and_validation_alias_replace_the_name_and_ignore_the_prefix() {
        let s = settings_of(&[(
            "app/config.py",
            "from pydantic import AliasChoices, Field\nfrom pydantic_settings import BaseSettings\n\n\
             class Settings(BaseSettings):\n\
             \x20   model_config = {\"env_prefix\": \"APP_\"}\n\
             \x20   db: str = Field(alias=\"DATABASE_URL\")\n\
             \x20   key: str = Field(\"k\", validation_alias=AliasChoices(\"API_KEY\", \"KEY\"))\n\
             \x20   old: str = Field(\"o\", env=\"LEGACY\")\n\
             \x20   plain: int = 3\n",
        )]);
        assert_eq!(
            env_of(&s[0]),
            vec![
                ("db".to_string(), strs(&["DATABASE_URL"])),
                ("key".to_string(), strs(&["API_KEY", "KEY"])),
                ("old".to_string(), strs(&["APP_OLD"])),
                ("plain".to_string(), strs(&["APP_PLAIN"])),
            ]
        );
        assert_eq!(
            s[0].fields[2].env_note.as_deref(),
            Some("`Field(env=...)` is pydantic 1; pydantic-settings 2 ignores it")
        );
    }

    #[test]
    fn populate_by_name_adds_the_prefixed_name_after_the_alias() {
        let s = settings_of(&[(
            "app/config.py",
            "from pydantic import Field\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n\
             class Settings(BaseSettings):\n\
             \x20   model_config = SettingsConfigDict(env_prefix=\"APP_\", populate_by_name=True)\n\
             \x20   db: str = Field(alias=\"DATABASE_URL\")\n",
        )]);
        assert_eq!(s[0].fields[0].env, strs(&["DATABASE_URL", "APP_DB"]));
    }

    #[test]
    fn v1_class_config_prefix_and_env_field() {
        let s = settings_of(&[(
            "app/config.py",
            "from pydantic import BaseSettings, Field\n\n\
             class Settings(BaseSettings):\n\
             \x20   token: str = Field(..., env=\"GITHUB_TOKEN\")\n\
             \x20   name: str = Field(\"svc\", alias=\"SERVICE\")\n\
             \x20   port: int = 8000\n\n\
             \x20   class Config:\n\
             \x20       env_prefix = \"svc_\"\n\
             \x20       env_file = \".env\", \".env.local\"\n\
             \x20       case_sensitive = True\n",
        )]);
        assert!(s[0].pydantic_v1);
        assert!(s[0].case_sensitive);
        assert_eq!(s[0].env_file, strs(&[".env", ".env.local"]));
        assert_eq!(
            env_of(&s[0]),
            vec![
                ("token".to_string(), strs(&["GITHUB_TOKEN"])),
                ("name".to_string(), strs(&["svc_name"])),
                ("port".to_string(), strs(&["svc_port"])),
            ]
        );
        assert_eq!(s[0].fields[0].field.default, None);
        assert!(
            s[0].fields[1]
                .env_note
                .as_deref()
                .is_some_and(|n| n.contains("use `env=`"))
        );
    }

    #[test]
    fn prefix_and_fields_inherited_from_a_base_in_another_module() {
        let s = settings_of(&[
            ("app/__init__.py", ""),
            (
                "app/base.py",
                "from pydantic_settings import BaseSettings, SettingsConfigDict\n\n\
                 class Common(BaseSettings):\n\
                 \x20   model_config = SettingsConfigDict(env_prefix=\"ACME_\", env_file=\".env\")\n\
                 \x20   debug: bool = False\n\
                 \x20   region: str = \"eu\"\n",
            ),
            (
                "app/config.py",
                "from app.base import Common\n\n\
                 class Worker(Common):\n\
                 \x20   region: str = \"us\"\n\
                 \x20   concurrency: int = 4\n",
            ),
        ]);
        let worker = s
            .iter()
            .find(|c| c.class == "app.config:Worker")
            .expect("worker");
        assert_eq!(worker.env_prefix, Some(StrValue::known("ACME_")));
        assert_eq!(worker.env_file, strs(&[".env"]));
        assert_eq!(
            env_of(worker),
            vec![
                ("debug".to_string(), strs(&["ACME_DEBUG"])),
                ("region".to_string(), strs(&["ACME_REGION"])),
                ("concurrency".to_string(), strs(&["ACME_CONCURRENCY"])),
            ]
        );
        assert_eq!(
            worker.fields[0].inherited_from.as_deref(),
            Some("app.base:Common")
        );
        // The redefinition is this class's own, with its own default.
        assert_eq!(worker.fields[1].inherited_from, None);
        assert_eq!(worker.fields[1].field.default.as_deref(), Some("\"us\""));
    }

    #[test]
    fn dynamic_prefix_is_reported_with_its_reason_not_guessed() {
        let s = settings_of(&[(
            "app/config.py",
            "import os\nfrom pydantic_settings import BaseSettings, SettingsConfigDict\n\n\
             class Settings(BaseSettings):\n\
             \x20   model_config = SettingsConfigDict(env_prefix=os.getenv(\"PREFIX\"))\n\
             \x20   debug: bool = False\n\
             \x20   db: str = \"\"\n",
        )]);
        assert_eq!(
            s[0].env_prefix,
            Some(StrValue::Dynamic {
                reason: "environment variable PREFIX".into()
            })
        );
        assert!(s[0].fields[0].env.is_empty());
        assert_eq!(
            s[0].fields[0].env_dynamic.as_deref(),
            Some("env_prefix is dynamic: environment variable PREFIX")
        );
    }

    #[test]
    fn prefix_from_a_module_constant_is_folded() {
        let s = settings_of(&[(
            "app/config.py",
            "from pydantic_settings import BaseSettings\n\nPREFIX = \"SVC\" + \"_\"\n\n\
             class Settings(BaseSettings, env_prefix=PREFIX):\n    host: str = \"h\"\n",
        )]);
        assert_eq!(s[0].fields[0].env, strs(&["SVC_HOST"]));
    }

    #[test]
    fn module_instances_and_cached_providers() {
        let s = settings_of(&[
            ("app/__init__.py", ""),
            (
                "app/config.py",
                "from functools import lru_cache\nfrom pydantic_settings import BaseSettings\n\n\
                 class Settings(BaseSettings):\n    debug: bool = False\n\n\
                 settings = Settings()\n\n\
                 @lru_cache\ndef get_settings():\n    return Settings()\n\n\
                 def fresh_settings():\n    return Settings(_env_file=None)\n",
            ),
            (
                "app/other.py",
                "from app.config import Settings\n\nconf = Settings()\n",
            ),
        ]);
        assert_eq!(
            s[0].instances,
            vec![
                ModuleInstance {
                    file: "app/config.py".into(),
                    line: 7,
                    name: "settings".into()
                },
                ModuleInstance {
                    file: "app/other.py".into(),
                    line: 3,
                    name: "conf".into()
                },
            ]
        );
        let providers: Vec<(&str, bool)> = s[0]
            .providers
            .iter()
            .map(|p| (p.function.as_str(), p.cached))
            .collect();
        assert_eq!(
            providers,
            vec![
                ("app.config:get_settings", true),
                ("app.config:fresh_settings", false)
            ]
        );
    }

    #[test]
    fn odd_input_does_not_panic() {
        let s = settings_of(&[(
            "app/config.py",
            "from pydantic_settings import BaseSettings\n\n\
             class S(BaseSettings):\n\
             \x20   model_config = make_config()\n\
             \x20   a, b = 1, 2\n\
             \x20   x: int = Field(alias=)\n\
             class Loop(Loop):\n    pass\n",
        )]);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].env_prefix, None);
    }
}
