//! The facts extracted from one Python file.
//!
//! Everything here is plain serde data computed from a file's path and bytes
//! alone: no syntax tree, no knowledge of other files. That is what lets the
//! extraction run on any rayon thread, be cached by content hash, or be done
//! by a Redis worker on another machine. Linking files together (import
//! resolution, routers across modules, task names) happens later, in
//! `graph`, from these facts.
//!
//! The model is a small outline of the module: its imports, one [`Scope`] per
//! module, class and function, and inside each scope the statements an
//! analysis needs (assignments, calls, returns, loops, comparisons), with
//! expressions kept as a bounded [`Expr`] tree.

use std::sync::Arc;

pub use compact_str::CompactString;
pub use ecow::EcoString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Bumped whenever the shape of [`FileFacts`] changes, so cached facts from
/// an older build are never read back.
pub const FACTS_VERSION: u32 = 6;

/// What one file yielded.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileFacts {
    /// Number of lines in the file.
    pub lines: u32,
    /// First line of the module docstring, if any.
    pub doc: Option<String>,
    pub imports: Vec<Import>,
    /// Scope 0 is the module itself; the others are classes and functions in
    /// source order, each naming its parent.
    pub scopes: Vec<Scope>,
    /// The literal value of `__all__`, when the module assigns one.
    pub all: Option<Vec<String>>,
    /// Places where the parser had to recover, and constructs it could not
    /// read; the rest of the file is still analysed.
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// Executed when the module is imported.
    TopLevel,
    /// Inside a function body: executed only when the function runs.
    Function,
    /// Under `if TYPE_CHECKING:`: never executed, seen by type checkers only.
    TypeChecking,
    /// Inside `try: ... except ImportError:`: optional at run time.
    TryExcept,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Import {
    pub line: u32,
    pub kind: ImportKind,
    /// Under an `if` other than `if TYPE_CHECKING:`.
    pub conditional: bool,
    /// Number of leading dots of a relative import; 0 for absolute imports.
    pub level: u32,
    /// The dotted module after `import` or `from` (may be empty for
    /// `from . import x`).
    pub module: CompactString,
    /// `from m import a as b, c`: `[(a, Some(b)), (c, None)]`. Empty for a
    /// plain `import m`.
    pub names: Vec<ImportedName>,
    /// `import a.b as c`: `Some("c")`.
    pub alias: Option<CompactString>,
    pub from: bool,
    /// `from m import *`.
    pub star: bool,
    /// Index of the scope the import appears in.
    pub scope: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImportedName {
    pub name: CompactString,
    pub alias: Option<CompactString>,
}

impl ImportedName {
    /// The name the import binds in the importing scope.
    pub fn bound(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Module,
    Class,
    Function,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    pub kind: ScopeKind,
    pub name: CompactString,
    /// Dotted path inside the module, `Outer.method` or `factory.inner`.
    pub qualname: CompactString,
    pub parent: Option<u32>,
    pub line: u32,
    pub end_line: u32,
    pub is_async: bool,
    /// Defined under an `if` or `try` rather than unconditionally.
    pub conditional: bool,
    pub doc: Option<String>,
    // The lists fixed when the scope is opened are boxed slices (16 bytes
    // instead of a Vec's 24): a large repository has tens of thousands of
    // scopes.
    pub decorators: Box<[Expr]>,
    /// Function parameters, in order.
    pub params: Box<[Param]>,
    /// Return annotation of a function.
    pub returns: Option<Expr>,
    /// Positional base classes of a class.
    pub bases: Box<[Expr]>,
    /// Keyword arguments of a class statement (`metaclass=`, `table=True`).
    pub class_keywords: Box<[Keyword]>,
    /// Lines of `yield` expressions directly in this function: a generator.
    pub yields: Vec<u32>,
    /// The values those `yield`s hand out, where they have one.
    pub yielded: Vec<Expr>,
    pub stmts: Vec<Stmt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    Normal,
    /// `*args`
    VarArgs,
    /// After a bare `*` or `*args`.
    KeywordOnly,
    /// `**kwargs`
    VarKeywords,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Param {
    pub name: CompactString,
    pub kind: ParamKind,
    pub annotation: Option<Expr>,
    pub default: Option<Expr>,
}

/// Where a statement sits, for analyses that care about control flow.
/// Every statement carries one: it is kept to 8 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    /// Under an `if`, `try` handler or `match` case.
    pub conditional: bool,
    /// The innermost enclosing loop is `while True` (or `while 1`).
    pub loop_forever: bool,
    /// Line of the innermost enclosing loop, 0 for none: see
    /// [`Context::loop_line`].
    loop_at: u32,
}

impl Context {
    pub fn new(conditional: bool, loop_line: Option<u32>, loop_forever: bool) -> Self {
        Context {
            conditional,
            loop_forever,
            loop_at: loop_line.unwrap_or(0),
        }
    }

    /// Line of the innermost enclosing `for`/`while` in the same scope.
    pub fn loop_line(&self) -> Option<u32> {
        (self.loop_at != 0).then_some(self.loop_at)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "stmt", rename_all = "snake_case")]
pub enum Stmt {
    /// `a = b = value`, `x: T = value`, `with value as a`, `type A = value`.
    Assign {
        line: u32,
        targets: Box<[Expr]>,
        /// Boxed: few assignments have one, and every statement is as
        /// large as the largest kind.
        annotation: Option<Box<Expr>>,
        value: Option<Expr>,
        /// `+=` and friends.
        augmented: bool,
        ctx: Context,
    },
    /// A call anywhere in the scope's own code (nested calls are listed too,
    /// sharing their value with the enclosing expression).
    Call {
        call: Arc<Call>,
        awaited: bool,
        ctx: Context,
    },
    Return {
        line: u32,
        value: Option<Expr>,
        ctx: Context,
    },
    /// `for target in iter:` (the target boxed, as `right` below, so that
    /// no kind of statement is larger than an assignment).
    For {
        line: u32,
        target: Box<Expr>,
        iter: Expr,
        ctx: Context,
    },
    /// `left == right` or `case right:` under `match left`.
    Compare {
        line: u32,
        left: Expr,
        right: Box<Expr>,
        ctx: Context,
    },
    /// `raise value`
    Raise {
        line: u32,
        value: Option<Expr>,
        ctx: Context,
    },
    /// One item of `with value:` or `async with value as name:`. The
    /// block runs to `end_line`; leaving it calls the value's `__exit__`
    /// (`__aexit__`). The `as` binding is an [`Stmt::Assign`] of its own.
    With {
        line: u32,
        end_line: u32,
        value: Expr,
        is_async: bool,
        ctx: Context,
    },
}

impl Stmt {
    pub fn line(&self) -> u32 {
        match self {
            Stmt::Assign { line, .. }
            | Stmt::Return { line, .. }
            | Stmt::For { line, .. }
            | Stmt::Compare { line, .. }
            | Stmt::Raise { line, .. }
            | Stmt::With { line, .. } => *line,
            Stmt::Call { call, .. } => call.line,
        }
    }

    pub fn ctx(&self) -> Context {
        match self {
            Stmt::Assign { ctx, .. }
            | Stmt::Call { ctx, .. }
            | Stmt::Return { ctx, .. }
            | Stmt::For { ctx, .. }
            | Stmt::Compare { ctx, .. }
            | Stmt::Raise { ctx, .. }
            | Stmt::With { ctx, .. } => *ctx,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Call {
    pub line: u32,
    pub func: Expr,
    pub args: Box<[Expr]>,
    pub kwargs: Box<[Keyword]>,
}

impl Call {
    /// The keyword argument `name`, if given.
    pub fn kwarg(&self, name: &str) -> Option<&Expr> {
        self.kwargs
            .iter()
            .find(|k| k.name.as_deref() == Some(name))
            .map(|k| &k.value)
    }

    /// Positional argument `index`, or else keyword argument `name`.
    pub fn arg(&self, index: usize, name: &str) -> Option<&Expr> {
        self.args
            .get(index)
            .filter(|a| !matches!(a, Expr::Starred(_) | Expr::DoubleStarred(_)))
            .or_else(|| self.kwarg(name))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Keyword {
    /// `None` for `**mapping`.
    pub name: Option<CompactString>,
    pub value: Expr,
}

/// One part of an f-string.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum FPart {
    Lit(CompactString),
    Hole(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BinOp {
    Add,
    Mod,
    BitOr,
    Other,
}

/// An expression, kept as far as an analysis can use it. Trees are bounded
/// in depth and size; what is cut off or not modelled becomes
/// [`Expr::Other`] with the syntax node's kind.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    Name(CompactString),
    /// `base.name`. The name is a 16-byte string (inline up to 15 bytes),
    /// so that no variant is larger than 24 bytes and an expression takes
    /// 32: a large repository holds millions.
    Attr(Box<Expr>, EcoString),
    Str(CompactString),
    FStr(Vec<FPart>),
    Num(CompactString),
    Bool(bool),
    None,
    Call(Arc<Call>),
    List(Vec<Expr>),
    Tuple(Vec<Expr>),
    Set(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Subscript(Box<Expr>, Box<[Expr]>),
    BinOp(Box<Expr>, BinOp, Box<Expr>),
    Starred(Box<Expr>),
    DoubleStarred(Box<Expr>),
    Await(Box<Expr>),
    /// A generator expression or comprehension: its element expression
    /// (for a dict comprehension, a [`Expr::Dict`] of its one pair).
    Comprehension(Box<Expr>),
    Lambda,
    /// A value that is one of these, decided at run time: the two branches
    /// of `a if cond else b`, or of `a or b`.
    OneOf(Vec<Expr>),
    Other(CompactString),
}

impl Expr {
    /// `a.b.c` for a chain of names and attributes.
    pub fn dotted(&self) -> Option<String> {
        match self {
            Expr::Name(n) => Some(n.as_str().to_owned()),
            Expr::Attr(base, attr) => base.dotted().map(|b| format!("{b}.{attr}")),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Expr::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_call(&self) -> Option<&Call> {
        match self {
            Expr::Call(c) => Some(c),
            _ => None,
        }
    }

    /// Elements of a list, tuple or set literal.
    pub fn elements(&self) -> Option<&[Expr]> {
        match self {
            Expr::List(v) | Expr::Tuple(v) | Expr::Set(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The file was analysed, but part of it could not be read.
    Warning,
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Diagnostic {
    pub line: u32,
    pub severity: Severity,
    pub message: String,
}
