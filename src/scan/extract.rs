//! One pass over one syntax tree, producing [`FileFacts`].
//!
//! The walk is iterative (a tree cursor with an explicit frame stack), so no
//! nesting depth in the source can overflow the stack; only expressions are
//! converted recursively, and [`super::expr`] bounds that. Each node is
//! visited once and dispatched on its kind: this is the whole per-file cost
//! on top of parsing.

use tree_sitter::{Node, Parser, TreeCursor};

use super::expr::{Converter, children, first_named, line_of, named_children};
use super::facts::{
    CompactString, Context, Diagnostic, Expr, FileFacts, Import, ImportKind, ImportedName, Keyword,
    Param, ParamKind, Scope, ScopeKind, Severity, Stmt,
};
use super::kinds::{Field, Kind, child, kind_name, kind_of};

/// Parses `src` and extracts its facts. `parser` must already have the
/// Python grammar set; it is reused across files by the caller.
pub fn extract(parser: &mut Parser, src: &[u8]) -> FileFacts {
    let Some(tree) = parser.parse(src, None) else {
        return FileFacts {
            diagnostics: vec![Diagnostic {
                line: 1,
                severity: Severity::Error,
                message: "the parser gave up on this file".into(),
            }],
            ..FileFacts::default()
        };
    };
    let root = tree.root_node();
    let mut walker = Walker::new(src, line_count(src));
    walker.facts.doc = docstring(&walker.conv, root);
    if root.has_error() {
        walker.find_errors(root);
    }
    walker.run(root.walk());
    walker.finish()
}

fn line_count(src: &[u8]) -> u32 {
    let n = src.iter().filter(|&&b| b == b'\n').count() as u32;
    if src.last().is_some_and(|&b| b != b'\n') {
        n + 1
    } else {
        n
    }
}

/// What entering a node pushed, to be undone when the walk leaves it.
#[derive(Clone, Copy)]
enum Frame {
    None,
    Scope { prev_scope: u32, prev_flags: Flags },
    Flags(Flags),
}

#[derive(Clone, Copy, Default)]
struct Flags {
    conditional: bool,
    type_checking: bool,
    try_import: bool,
    loop_line: Option<u32>,
    loop_forever: bool,
}

struct Walker<'a> {
    conv: Converter<'a>,
    facts: FileFacts,
    scope: u32,
    flags: Flags,
    /// Decorators read from a `decorated_definition`, waiting for its
    /// function or class.
    pending_decorators: Vec<Expr>,
    /// Calls directly under `await`, by start byte, so the call is marked.
    awaited: Vec<usize>,
    errors: u32,
}

const MAX_DIAGNOSTICS: u32 = 20;

impl<'a> Walker<'a> {
    fn new(src: &'a [u8], lines: u32) -> Self {
        let module = Scope {
            kind: ScopeKind::Module,
            name: CompactString::default(),
            qualname: CompactString::default(),
            parent: None,
            line: 1,
            end_line: lines,
            is_async: false,
            conditional: false,
            doc: None,
            decorators: Box::default(),
            params: Box::default(),
            returns: None,
            bases: Box::default(),
            class_keywords: Box::default(),
            yields: Vec::new(),
            yielded: Vec::new(),
            stmts: Vec::new(),
        };
        Walker {
            conv: Converter::new(src),
            facts: FileFacts {
                lines,
                scopes: vec![module],
                ..FileFacts::default()
            },
            scope: 0,
            flags: Flags::default(),
            pending_decorators: Vec::new(),
            awaited: Vec::new(),
            errors: 0,
        }
    }

    fn finish(mut self) -> FileFacts {
        // Facts of every file stay in memory until the report is written:
        // give back what the vectors grew beyond their length.
        shrink(&mut self.facts.scopes[0]);
        self.facts.scopes.shrink_to_fit();
        self.facts.imports.shrink_to_fit();
        self.facts
    }

    fn run(&mut self, mut cursor: TreeCursor) {
        // One entry per node whose children are being visited: what to
        // undo on leaving it, and its kind (the parent of the current node).
        let mut frames: Vec<(Frame, Kind)> = Vec::new();
        'outer: loop {
            let node = cursor.node();
            let kind = kind_of(node);
            let parent = frames.last().map_or(Kind::Other, |f| f.1);
            let (frame, descend) = self.enter(node, kind, parent, &cursor);
            if descend && cursor.goto_first_child() {
                frames.push((frame, kind));
                continue;
            }
            self.leave(frame);
            loop {
                if cursor.goto_next_sibling() {
                    continue 'outer;
                }
                if !cursor.goto_parent() {
                    break 'outer;
                }
                let frame = frames.pop().map_or(Frame::None, |f| f.0);
                self.leave(frame);
            }
        }
    }

    fn leave(&mut self, frame: Frame) {
        match frame {
            Frame::None => {}
            Frame::Scope {
                prev_scope,
                prev_flags,
            } => {
                shrink(&mut self.facts.scopes[self.scope as usize]);
                self.scope = prev_scope;
                self.flags = prev_flags;
            }
            Frame::Flags(prev) => self.flags = prev,
        }
    }

    fn ctx(&self) -> Context {
        Context::new(
            self.flags.conditional,
            self.flags.loop_line,
            self.flags.loop_forever,
        )
    }

    fn push(&mut self, stmt: Stmt) {
        self.facts.scopes[self.scope as usize].stmts.push(stmt);
    }

    fn set_flags(&mut self, f: impl FnOnce(&mut Flags)) -> Frame {
        let prev = self.flags;
        f(&mut self.flags);
        Frame::Flags(prev)
    }

    /// Handles entering `node`, whose parent has kind `parent`. Returns what
    /// to undo on leaving it and whether to visit its children.
    fn enter(
        &mut self,
        node: Node,
        kind: Kind,
        parent: Kind,
        cursor: &TreeCursor,
    ) -> (Frame, bool) {
        if node.is_missing() {
            return (Frame::None, false);
        }
        match kind {
            Kind::Leaf => (Frame::None, false),
            // Only f-strings hold expressions.
            Kind::String => {
                let prefix = self
                    .conv
                    .text(node)
                    .bytes()
                    .take_while(|b| b.is_ascii_alphabetic());
                (
                    Frame::None,
                    prefix.into_iter().any(|b| b == b'f' || b == b'F'),
                )
            }
            Kind::Import => {
                self.import(node);
                (Frame::None, false)
            }
            Kind::Decorated => {
                self.pending_decorators = children(node)
                    .into_iter()
                    .filter(|c| kind_name(*c) == "decorator")
                    .filter_map(first_named)
                    .map(|e| self.conv.expr(e))
                    .collect();
                (Frame::None, true)
            }
            // Decorators were read with their definition.
            Kind::Decorator => (Frame::None, false),
            Kind::FunctionDef => (self.function(node), true),
            Kind::ClassDef => (self.class(node), true),
            // Parts of a definition already read into its scope.
            _ if matches!(parent, Kind::FunctionDef | Kind::ClassDef)
                && cursor.field_id().is_some_and(|f| {
                    [
                        Field::Parameters,
                        Field::ReturnType,
                        Field::Superclasses,
                        Field::TypeParameters,
                    ]
                    .iter()
                    .any(|field| field.id() == f)
                }) =>
            {
                (Frame::None, false)
            }
            Kind::Call => {
                let call = self.conv.call(node);
                let awaited = self.awaited.last() == Some(&node.start_byte());
                let ctx = self.ctx();
                self.push(Stmt::Call { call, awaited, ctx });
                (Frame::None, true)
            }
            Kind::Await => {
                if let Some(inner) = first_named(node).filter(|n| kind_name(*n) == "call") {
                    self.awaited.push(inner.start_byte());
                }
                (Frame::None, true)
            }
            Kind::Assignment => {
                // The inner node of a chained `a = b = c` was recorded with
                // the outer one.
                if parent != Kind::Assignment {
                    self.assignment(node);
                }
                (Frame::None, true)
            }
            Kind::TypeAlias => {
                let kids = named_children(node);
                if let (Some(l), Some(r)) = (kids.first(), kids.last()) {
                    let target = self.conv.expr(*l);
                    let target = match target {
                        Expr::Subscript(base, _) => *base,
                        t => t,
                    };
                    let value = Some(self.conv.expr(*r));
                    let ctx = self.ctx();
                    self.push(Stmt::Assign {
                        line: line_of(node),
                        targets: Box::new([target]),
                        annotation: None,
                        value,
                        augmented: false,
                        ctx,
                    });
                }
                (Frame::None, false)
            }
            Kind::WithItem => {
                // with_item < with_clause < with_statement; the value is the
                // context manager, or `as_pattern(manager, alias)`.
                let item = child(node, Field::Value);
                let (manager, alias) = match item {
                    Some(v) if kind_name(v) == "as_pattern" => (
                        named_children(v).first().copied(),
                        child(v, Field::Alias).and_then(first_named),
                    ),
                    v => (v, None),
                };
                if let Some(manager) = manager
                    && let Some(statement) = node.parent().and_then(|c| c.parent())
                {
                    let value = self.conv.expr(manager);
                    let ctx = self.ctx();
                    let line = line_of(node);
                    if let Some(alias) = alias {
                        let target = self.conv.expr(alias);
                        self.push(Stmt::Assign {
                            line,
                            targets: Box::new([target]),
                            annotation: None,
                            value: Some(value.clone()),
                            augmented: false,
                            ctx,
                        });
                    }
                    self.push(Stmt::With {
                        line,
                        end_line: statement.end_position().row as u32 + 1,
                        value,
                        is_async: statement.child(0).is_some_and(|c| c.kind() == "async"),
                        ctx,
                    });
                }
                (Frame::None, true)
            }
            Kind::Return => {
                let value = first_named(node).map(|v| self.conv.expr(v));
                let ctx = self.ctx();
                self.push(Stmt::Return {
                    line: line_of(node),
                    value,
                    ctx,
                });
                (Frame::None, true)
            }
            Kind::Raise => {
                let value = first_named(node).map(|v| self.conv.expr(v));
                let ctx = self.ctx();
                self.push(Stmt::Raise {
                    line: line_of(node),
                    value,
                    ctx,
                });
                (Frame::None, true)
            }
            Kind::Yield => {
                let line = line_of(node);
                let value = first_named(node)
                    .filter(|v| kind_name(*v) != "from")
                    .map(|v| self.conv.expr(v));
                let scope = &mut self.facts.scopes[self.scope as usize];
                if scope.kind == ScopeKind::Function {
                    scope.yields.push(line);
                    scope.yielded.extend(value);
                }
                (Frame::None, true)
            }
            Kind::For => {
                if let (Some(l), Some(r)) = (child(node, Field::Left), child(node, Field::Right)) {
                    let target = self.conv.expr(l);
                    let iter = self.conv.expr(r);
                    let ctx = self.ctx();
                    self.push(Stmt::For {
                        line: line_of(node),
                        target: Box::new(target),
                        iter,
                        ctx,
                    });
                }
                let line = line_of(node);
                (
                    self.set_flags(|f| {
                        f.loop_line = Some(line);
                        f.loop_forever = false;
                    }),
                    true,
                )
            }
            Kind::While => {
                let forever = child(node, Field::Condition)
                    .is_some_and(|c| matches!(self.conv.text(c), "True" | "1"));
                let line = line_of(node);
                (
                    self.set_flags(|f| {
                        f.loop_line = Some(line);
                        f.loop_forever = forever;
                    }),
                    true,
                )
            }
            Kind::If => {
                let tc = child(node, Field::Condition)
                    .is_some_and(|c| is_type_checking(self.conv.text(c)));
                if tc {
                    (self.set_flags(|f| f.type_checking = true), true)
                } else {
                    (self.set_flags(|f| f.conditional = true), true)
                }
            }
            // The `else` of `if TYPE_CHECKING:` runs at run time.
            Kind::ElseOrElif if self.flags.type_checking => (
                self.set_flags(|f| {
                    f.type_checking = false;
                    f.conditional = true;
                }),
                true,
            ),
            Kind::Try => {
                let optional = children(node).into_iter().any(|c| {
                    kind_name(c) == "except_clause" && {
                        let head = self.conv.text(c).lines().next().unwrap_or("");
                        head.contains("ImportError") || head.contains("ModuleNotFoundError")
                    }
                });
                if optional {
                    (self.set_flags(|f| f.try_import = true), true)
                } else {
                    (Frame::None, true)
                }
            }
            Kind::Handler => (self.set_flags(|f| f.conditional = true), true),
            Kind::Comparison => {
                self.comparison(node);
                (Frame::None, true)
            }
            Kind::Match => {
                self.match_cases(node);
                (Frame::None, true)
            }
            _ => (Frame::None, true),
        }
    }

    /// Records every ERROR and MISSING node, descending only into subtrees
    /// that contain one, so a clean file pays nothing.
    fn find_errors(&mut self, root: Node) {
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if node.is_error() || node.is_missing() {
                self.diagnose(node);
                if node.is_missing() {
                    continue;
                }
            }
            let mut cursor = node.walk();
            let kids: Vec<Node> = node
                .children(&mut cursor)
                .filter(|c| c.has_error())
                .collect();
            stack.extend(kids.into_iter().rev());
        }
        self.facts.diagnostics.sort_by_key(|d| d.line);
    }

    fn diagnose(&mut self, node: Node) {
        self.errors += 1;
        if self.errors > MAX_DIAGNOSTICS {
            return;
        }
        let line = line_of(node);
        let message = if node.is_missing() {
            format!("syntax error: missing `{}`", kind_name(node))
        } else {
            let snippet: String = self
                .conv
                .text(node)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(60)
                .collect();
            let construct = construct_hint(&snippet);
            format!(
                "syntax error: could not parse `{}`{construct}",
                snippet.trim()
            )
        };
        self.facts.diagnostics.push(Diagnostic {
            line,
            severity: Severity::Warning,
            message,
        });
    }

    fn import(&mut self, node: Node) {
        let line = line_of(node);
        let kind = if self.flags.type_checking {
            ImportKind::TypeChecking
        } else if self.facts.scopes[self.scope as usize].kind == ScopeKind::Function {
            ImportKind::Function
        } else if self.flags.try_import {
            ImportKind::TryExcept
        } else {
            ImportKind::TopLevel
        };
        let conditional = self.flags.conditional;
        let scope = self.scope;
        let base = Import {
            line,
            kind,
            conditional,
            level: 0,
            module: CompactString::default(),
            names: Vec::new(),
            alias: None,
            from: false,
            star: false,
            scope,
        };
        match kind_name(node) {
            "import_statement" => {
                for c in named_children(node) {
                    let (name, alias) = self.dotted_and_alias(c);
                    if name.is_empty() {
                        continue;
                    }
                    self.facts.imports.push(Import {
                        module: name,
                        alias,
                        ..base.clone()
                    });
                }
            }
            _ => {
                let mut imp = Import { from: true, ..base };
                if kind_name(node) == "future_import_statement" {
                    imp.module = "__future__".into();
                }
                let module_node = child(node, Field::ModuleName);
                if let Some(m) = module_node {
                    if kind_name(m) == "relative_import" {
                        for c in children(m) {
                            match kind_name(c) {
                                "import_prefix" => {
                                    imp.level = self.conv.text(c).trim().len() as u32
                                }
                                "dotted_name" => imp.module = dotted(self.conv.text(c)),
                                _ => {}
                            }
                        }
                    } else {
                        imp.module = dotted(self.conv.text(m));
                    }
                }
                for c in named_children(node) {
                    if Some(c) == module_node {
                        continue;
                    }
                    match kind_name(c) {
                        "wildcard_import" => imp.star = true,
                        "dotted_name" | "aliased_import" => {
                            let (name, alias) = self.dotted_and_alias(c);
                            if !name.is_empty() {
                                imp.names.push(ImportedName { name, alias });
                            }
                        }
                        _ => {}
                    }
                }
                imp.names.shrink_to_fit();
                self.facts.imports.push(imp);
            }
        }
    }

    fn dotted_and_alias(&self, node: Node) -> (CompactString, Option<CompactString>) {
        match kind_name(node) {
            "aliased_import" => {
                let name = child(node, Field::Name).map(|n| dotted(self.conv.text(n)));
                let alias = child(node, Field::Alias).map(|a| self.conv.text(a).into());
                (name.unwrap_or_default(), alias)
            }
            "dotted_name" => (dotted(self.conv.text(node)), None),
            _ => (CompactString::default(), None),
        }
    }

    fn function(&mut self, node: Node) -> Frame {
        let name = child(node, Field::Name)
            .map(|n| self.conv.text(n).into())
            .unwrap_or_default();
        let is_async = children(node)
            .first()
            .is_some_and(|c| kind_name(*c) == "async");
        let params = child(node, Field::Parameters)
            .map(|p| self.params(p))
            .unwrap_or_default();
        let returns = child(node, Field::ReturnType).map(|r| self.conv.expr(r));
        let doc = child(node, Field::Body).and_then(|b| docstring(&self.conv, b));
        let mut scope = self.new_scope(node, ScopeKind::Function, name, doc);
        scope.is_async = is_async;
        scope.params = params.into_boxed_slice();
        scope.returns = returns;
        self.open_scope(scope)
    }

    fn class(&mut self, node: Node) -> Frame {
        let name = child(node, Field::Name)
            .map(|n| self.conv.text(n).into())
            .unwrap_or_default();
        let mut bases = Vec::new();
        let mut keywords = Vec::new();
        if let Some(sup) = child(node, Field::Superclasses) {
            for c in named_children(sup) {
                match kind_name(c) {
                    "keyword_argument" => {
                        let name = child(c, Field::Name).map(|n| self.conv.text(n).into());
                        let value =
                            child(c, Field::Value).map_or(Expr::None, |v| self.conv.expr(v));
                        keywords.push(Keyword { name, value });
                    }
                    "comment" => {}
                    _ => bases.push(self.conv.expr(c)),
                }
            }
        }
        let doc = child(node, Field::Body).and_then(|b| docstring(&self.conv, b));
        let mut scope = self.new_scope(node, ScopeKind::Class, name, doc);
        scope.bases = bases.into_boxed_slice();
        scope.class_keywords = keywords.into_boxed_slice();
        self.open_scope(scope)
    }

    fn new_scope(
        &mut self,
        node: Node,
        kind: ScopeKind,
        name: CompactString,
        doc: Option<String>,
    ) -> Scope {
        let parent = &self.facts.scopes[self.scope as usize];
        let qualname = if parent.qualname.is_empty() {
            name.clone()
        } else {
            compact_str::format_compact!("{}.{}", parent.qualname, name)
        };
        Scope {
            kind,
            name,
            qualname,
            parent: Some(self.scope),
            line: line_of(node),
            end_line: node.end_position().row as u32 + 1,
            is_async: false,
            conditional: self.flags.conditional
                || self.flags.try_import
                || self.flags.type_checking,
            doc,
            decorators: std::mem::take(&mut self.pending_decorators).into_boxed_slice(),
            params: Box::default(),
            returns: None,
            bases: Box::default(),
            class_keywords: Box::default(),
            yields: Vec::new(),
            yielded: Vec::new(),
            stmts: Vec::new(),
        }
    }

    fn open_scope(&mut self, scope: Scope) -> Frame {
        let frame = Frame::Scope {
            prev_scope: self.scope,
            prev_flags: self.flags,
        };
        self.facts.scopes.push(scope);
        self.scope = self.facts.scopes.len() as u32 - 1;
        // Loops and conditions of the enclosing scope do not describe the
        // statements of a nested definition.
        self.flags = Flags {
            type_checking: self.flags.type_checking,
            ..Flags::default()
        };
        frame
    }

    fn params(&mut self, node: Node) -> Vec<Param> {
        let mut out = Vec::new();
        let mut keyword_only = false;
        for c in named_children(node) {
            let mut annotation = None;
            let mut default = None;
            let (name_node, kind) = match kind_name(c) {
                "identifier" => (Some(c), ParamKind::Normal),
                "typed_parameter" => {
                    annotation = child(c, Field::Type).map(|t| self.conv.expr(t));
                    let inner = first_named(c);
                    match inner.map(kind_name) {
                        Some("list_splat_pattern") => {
                            (inner.and_then(first_named), ParamKind::VarArgs)
                        }
                        Some("dictionary_splat_pattern") => {
                            (inner.and_then(first_named), ParamKind::VarKeywords)
                        }
                        _ => (inner, ParamKind::Normal),
                    }
                }
                "default_parameter" | "typed_default_parameter" => {
                    annotation = child(c, Field::Type).map(|t| self.conv.expr(t));
                    default = child(c, Field::Value).map(|v| self.conv.expr(v));
                    (child(c, Field::Name), ParamKind::Normal)
                }
                "list_splat_pattern" => (first_named(c), ParamKind::VarArgs),
                "dictionary_splat_pattern" => (first_named(c), ParamKind::VarKeywords),
                "keyword_separator" => {
                    keyword_only = true;
                    continue;
                }
                _ => continue,
            };
            let Some(name_node) = name_node else { continue };
            let kind = match kind {
                ParamKind::Normal if keyword_only => ParamKind::KeywordOnly,
                ParamKind::VarArgs => {
                    keyword_only = true;
                    ParamKind::VarArgs
                }
                k => k,
            };
            out.push(Param {
                name: self.conv.text(name_node).into(),
                kind,
                annotation,
                default,
            });
        }
        out.shrink_to_fit();
        out
    }

    fn assignment(&mut self, node: Node) {
        // `a = b = c` nests: the right side of the outer assignment is
        // another assignment; collect every target and the final value.
        let augmented = kind_name(node) == "augmented_assignment";
        let mut targets = Vec::with_capacity(1);
        let mut annotation = None;
        let mut cur = node;
        let value = loop {
            if let Some(l) = child(cur, Field::Left) {
                targets.push(self.conv.expr(l));
            }
            if annotation.is_none() {
                annotation = child(cur, Field::Type).map(|t| self.conv.expr(t));
            }
            match child(cur, Field::Right) {
                Some(r) if kind_name(r) == "assignment" => cur = r,
                Some(r) => break Some(self.conv.expr(r)),
                None => break None,
            }
        };
        if self.scope == 0
            && !augmented
            && targets
                .iter()
                .any(|t| matches!(t, Expr::Name(n) if n == "__all__"))
            && let Some(items) = value.as_ref().and_then(|v| v.elements())
        {
            self.facts.all = Some(
                items
                    .iter()
                    .filter_map(|e| e.as_str().map(String::from))
                    .collect(),
            );
        }
        targets.shrink_to_fit();
        let ctx = self.ctx();
        self.push(Stmt::Assign {
            line: line_of(node),
            targets: targets.into_boxed_slice(),
            annotation: annotation.map(Box::new),
            value,
            augmented,
            ctx,
        });
    }

    fn comparison(&mut self, node: Node) {
        let kids = children(node);
        // `a == b`, `a in (..)`: operand, operator, operand.
        if kids.len() != 3 || !matches!(kind_name(kids[1]), "==" | "in" | "!=") {
            return;
        }
        let left = self.conv.expr(kids[0]);
        let right = self.conv.expr(kids[2]);
        let ctx = self.ctx();
        self.push(Stmt::Compare {
            line: line_of(node),
            left,
            right: Box::new(right),
            ctx,
        });
    }

    fn match_cases(&mut self, node: Node) {
        let Some(subject) = child(node, Field::Subject) else {
            return;
        };
        let subject = self.conv.expr(subject);
        let Some(body) = child(node, Field::Body) else {
            return;
        };
        for case in named_children(body)
            .into_iter()
            .filter(|c| kind_name(*c) == "case_clause")
        {
            for pat in named_children(case)
                .into_iter()
                .filter(|c| kind_name(*c) == "case_pattern")
            {
                let Some(lit) = first_named(pat) else {
                    continue;
                };
                let right = match kind_name(lit) {
                    "string" | "dotted_name" => {
                        if kind_name(lit) == "string" {
                            self.conv.expr(lit)
                        } else {
                            Expr::Name(self.conv.text(lit).into())
                        }
                    }
                    _ => continue,
                };
                let ctx = self.ctx();
                self.push(Stmt::Compare {
                    line: line_of(pat),
                    left: subject.clone(),
                    right: Box::new(right),
                    ctx,
                });
            }
        }
    }
}

/// Gives back the capacity a finished scope's lists grew beyond their
/// length: the facts of every file stay in memory until the report is
/// written.
fn shrink(scope: &mut Scope) {
    scope.stmts.shrink_to_fit();
    scope.yields.shrink_to_fit();
    scope.yielded.shrink_to_fit();
}

/// A dotted name with the spaces around its dots removed.
fn dotted(text: &str) -> CompactString {
    if !text.contains(char::is_whitespace) {
        return text.into();
    }
    text.split('.')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(".")
        .into()
}

fn is_type_checking(cond: &str) -> bool {
    let c = cond.trim();
    c == "TYPE_CHECKING" || c.ends_with(".TYPE_CHECKING")
}

/// Names the modern construct an ERROR node most likely holds, so a
/// diagnostic tells the reader why a valid file did not parse.
fn construct_hint(snippet: &str) -> &'static str {
    let s = snippet.trim_start();
    if (s.starts_with("class ") || s.starts_with("def ")) && s.contains('[') && s.contains('=') {
        " (a type parameter default, Python 3.13, which the grammar does not support)"
    } else if s.starts_with("type ") {
        " (a `type` alias statement)"
    } else if s.starts_with("except") {
        " (an `except` clause)"
    } else {
        ""
    }
}

/// First line of the docstring opening `body` (a module or block), if any.
fn docstring(conv: &Converter, body: Node) -> Option<String> {
    let first = first_named(body)?;
    if kind_name(first) != "expression_statement" {
        return None;
    }
    let s = first_named(first)?;
    if kind_name(s) != "string" {
        return None;
    }
    let text = conv.text(s);
    let inner = text
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .trim_matches(|c| c == '"' || c == '\'');
    inner
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(160).collect())
}
