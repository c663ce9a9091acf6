//! Turning expression nodes into [`Expr`] values.
//!
//! Expressions are the one place the extractor recurses, so the recursion is
//! bounded twice: by depth and by the number of nodes converted for one
//! top-level expression. Whatever lies past either bound becomes
//! [`Expr::Other`], which keeps a pathological file (a 10,000-deep nested
//! expression, a megabyte literal) from costing stack or memory.

use std::collections::HashMap;
use std::sync::Arc;

use tree_sitter::Node;

use super::facts::{BinOp, Call, CompactString, Expr, FPart, Keyword};
use super::kinds::{Field, child, kind_name};

const MAX_DEPTH: u32 = 24;
const MAX_NODES: u32 = 400;
/// Literal strings longer than this are cut; keys, paths and names are short.
const MAX_STR: usize = 200;

pub(crate) struct Converter<'a> {
    src: &'a [u8],
    /// `src` as text, checked once, when it is UTF-8 (it always is when
    /// it comes through `analyze_bytes`).
    text: Option<&'a str>,
    budget: u32,
    /// Number of times a bound cut a conversion short, so a call known to
    /// be complete can be shared.
    cuts: u32,
    /// Calls converted whole, by byte span. The walk meets every call
    /// twice: inside the expression that contains it, then on its own.
    /// Sharing the first conversion saves the second and its memory.
    calls: HashMap<(usize, usize), Arc<Call>>,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Converter {
            src,
            text: std::str::from_utf8(src).ok(),
            budget: MAX_NODES,
            cuts: 0,
            calls: HashMap::new(),
        }
    }

    pub(crate) fn text(&self, node: Node) -> &'a str {
        // A node's bytes are text when they lie on character boundaries
        // of valid text: slicing checks those two boundaries rather than
        // validating every byte of every node again.
        match self.text {
            Some(text) => text.get(node.byte_range()).unwrap_or(""),
            None => node_text(self.src, node),
        }
    }

    /// Converts `node` with a fresh node budget.
    pub(crate) fn expr(&mut self, node: Node) -> Expr {
        self.budget = MAX_NODES;
        self.convert(node, 0)
    }

    /// Converts a call node with a fresh node budget.
    pub(crate) fn call(&mut self, node: Node) -> Arc<Call> {
        self.budget = MAX_NODES;
        self.shared_call(node, 0)
    }

    fn shared_call(&mut self, node: Node, depth: u32) -> Arc<Call> {
        let span = (node.start_byte(), node.end_byte());
        if let Some(c) = self.calls.get(&span) {
            return Arc::clone(c);
        }
        let cuts = self.cuts;
        let call = Arc::new(self.convert_call(node, depth));
        if self.cuts == cuts {
            self.calls.insert(span, Arc::clone(&call));
        }
        call
    }

    fn convert(&mut self, node: Node, depth: u32) -> Expr {
        if depth > MAX_DEPTH || self.budget == 0 {
            self.cuts += 1;
            return Expr::Other(CompactString::const_new(kind_name(node)));
        }
        self.budget -= 1;
        let d = depth + 1;
        match kind_name(node) {
            "identifier" => Expr::Name(self.text(node).into()),
            "attribute" => {
                let (Some(obj), Some(attr)) =
                    (child(node, Field::Object), child(node, Field::Attribute))
                else {
                    return Expr::Other("attribute".into());
                };
                Expr::Attr(Box::new(self.convert(obj, d)), self.text(attr).into())
            }
            "string" => self.string(node, d),
            "concatenated_string" => {
                let parts: Vec<Expr> = named_children(node)
                    .into_iter()
                    .map(|c| self.convert(c, d))
                    .collect();
                join_strings(parts)
            }
            "integer" | "float" => Expr::Num(self.text(node).into()),
            "true" => Expr::Bool(true),
            "false" => Expr::Bool(false),
            "none" => Expr::None,
            "call" => Expr::Call(self.shared_call(node, d)),
            "list" | "expression_list" | "pattern_list" | "tuple_pattern" | "list_pattern" => {
                let items = self.items(node, d);
                if kind_name(node) == "list" || kind_name(node) == "list_pattern" {
                    Expr::List(items)
                } else {
                    Expr::Tuple(items)
                }
            }
            "tuple" => Expr::Tuple(self.items(node, d)),
            "set" => Expr::Set(self.items(node, d)),
            "dictionary" => {
                let kids = named_children(node);
                let mut pairs = Vec::with_capacity(kids.len());
                for c in kids {
                    match kind_name(c) {
                        "pair" => {
                            let k = child(c, Field::Key)
                                .map_or(Expr::Other("pair".into()), |k| self.convert(k, d));
                            let v = child(c, Field::Value)
                                .map_or(Expr::Other("pair".into()), |v| self.convert(v, d));
                            pairs.push((k, v));
                        }
                        "dictionary_splat" => {
                            let inner = first_named(c).map_or(Expr::None, |x| self.convert(x, d));
                            pairs.push((Expr::DoubleStarred(Box::new(inner)), Expr::None));
                        }
                        "comment" => {}
                        other => pairs.push((Expr::Other(other.into()), Expr::None)),
                    }
                }
                pairs.shrink_to_fit();
                Expr::Dict(pairs)
            }
            "subscript" => {
                let value = child(node, Field::Value)
                    .map_or(Expr::Other("subscript".into()), |v| self.convert(v, d));
                let mut cursor = node.walk();
                let subs: Vec<Expr> = node
                    .children_by_field_id(Field::Subscript.id(), &mut cursor)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .map(|s| self.convert(s, d))
                    .collect();
                Expr::Subscript(Box::new(value), subs.into_boxed_slice())
            }
            "generic_type" => {
                // `list[int]` in annotations parses as a type node in some positions.
                let kids = named_children(node);
                let base = kids
                    .first()
                    .map_or(Expr::Other("generic_type".into()), |b| self.convert(*b, d));
                let args = kids
                    .iter()
                    .skip(1)
                    .flat_map(|a| named_children(*a))
                    .map(|a| self.convert(a, d))
                    .collect();
                Expr::Subscript(Box::new(base), args)
            }
            "type" | "parenthesized_expression" | "expression_statement" => match first_named(node)
            {
                Some(inner) => self.convert(inner, d),
                None => Expr::Other(kind_name(node).into()),
            },
            "binary_operator" => {
                let (Some(l), Some(r)) = (child(node, Field::Left), child(node, Field::Right))
                else {
                    return Expr::Other("binary_operator".into());
                };
                let op = match child(node, Field::Operator).map(kind_name) {
                    Some("+") => BinOp::Add,
                    Some("%") => BinOp::Mod,
                    Some("|") => BinOp::BitOr,
                    _ => BinOp::Other,
                };
                Expr::BinOp(
                    Box::new(self.convert(l, d)),
                    op,
                    Box::new(self.convert(r, d)),
                )
            }
            "unary_operator" => {
                let text = self.text(node);
                match child(node, Field::Argument) {
                    Some(a) if matches!(kind_name(a), "integer" | "float") => {
                        Expr::Num(text.split_whitespace().collect())
                    }
                    _ => Expr::Other("unary_operator".into()),
                }
            }
            "list_splat" | "list_splat_pattern" => {
                let inner = first_named(node).map_or(Expr::None, |x| self.convert(x, d));
                Expr::Starred(Box::new(inner))
            }
            "dictionary_splat" | "dictionary_splat_pattern" => {
                let inner = first_named(node).map_or(Expr::None, |x| self.convert(x, d));
                Expr::DoubleStarred(Box::new(inner))
            }
            "await" => {
                let inner = first_named(node).map_or(Expr::None, |x| self.convert(x, d));
                Expr::Await(Box::new(inner))
            }
            "generator_expression" | "list_comprehension" | "set_comprehension" => {
                let body = child(node, Field::Body)
                    .map_or(Expr::Other(kind_name(node).into()), |b| self.convert(b, d));
                Expr::Comprehension(Box::new(body))
            }
            // `{k: v for ...}`: the element is the one pair, as a dict.
            "dictionary_comprehension" => {
                let pair = child(node, Field::Body);
                let mut part = |field: Field| {
                    pair.and_then(|p| child(p, field))
                        .map_or(Expr::Other("pair".into()), |x| self.convert(x, d))
                };
                let (k, v) = (part(Field::Key), part(Field::Value));
                Expr::Comprehension(Box::new(Expr::Dict(vec![(k, v)])))
            }
            // `a if c else b`: the value is one of the two branches.
            "conditional_expression" => match named_children(node).as_slice() {
                [then, _, otherwise] => {
                    Expr::OneOf(vec![self.convert(*then, d), self.convert(*otherwise, d)])
                }
                _ => Expr::Other(node.kind().into()),
            },
            // `a or b` is `a` when truthy, else `b`: one of the two.
            "boolean_operator"
                if child(node, Field::Operator).is_some_and(|o| self.text(o) == "or") =>
            {
                match (child(node, Field::Left), child(node, Field::Right)) {
                    (Some(l), Some(r)) => Expr::OneOf(vec![self.convert(l, d), self.convert(r, d)]),
                    _ => Expr::Other(node.kind().into()),
                }
            }
            "lambda" => Expr::Lambda,
            "keyword_argument" => {
                // Only reached for malformed argument lists; keep the value.
                child(node, Field::Value).map_or(Expr::Other("keyword_argument".into()), |v| {
                    self.convert(v, d)
                })
            }
            other => Expr::Other(CompactString::const_new(other)),
        }
    }

    fn items(&mut self, node: Node, d: u32) -> Vec<Expr> {
        let kids = named_children(node);
        let mut items = Vec::with_capacity(kids.len());
        for c in kids {
            if kind_name(c) != "comment" {
                items.push(self.convert(c, d));
            }
        }
        items
    }

    fn convert_call(&mut self, node: Node, d: u32) -> Call {
        let line = line_of(node);
        let func =
            child(node, Field::Function).map_or(Expr::Other("call".into()), |f| self.convert(f, d));
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        if let Some(list) = child(node, Field::Arguments) {
            if kind_name(list) == "generator_expression" {
                args.push(self.convert(list, d));
            } else {
                for c in named_children(list) {
                    match kind_name(c) {
                        "keyword_argument" => {
                            let name = child(c, Field::Name).map(|n| self.text(n).into());
                            let value =
                                child(c, Field::Value).map_or(Expr::None, |v| self.convert(v, d));
                            kwargs.push(Keyword { name, value });
                        }
                        "dictionary_splat" => {
                            let value = first_named(c).map_or(Expr::None, |v| self.convert(v, d));
                            kwargs.push(Keyword { name: None, value });
                        }
                        "comment" => {}
                        _ => args.push(self.convert(c, d)),
                    }
                }
            }
        }
        // Every call's facts are kept until the end: no spare capacity.
        args.shrink_to_fit();
        kwargs.shrink_to_fit();
        Call {
            line,
            func,
            args: args.into_boxed_slice(),
            kwargs: kwargs.into_boxed_slice(),
        }
    }

    fn string(&mut self, node: Node, d: u32) -> Expr {
        let mut parts: Vec<FPart> = Vec::new();
        let mut is_f = false;
        for c in children(node) {
            match kind_name(c) {
                "string_start" => {
                    let prefix = self.text(c).to_ascii_lowercase();
                    is_f = prefix.contains('f');
                    if prefix.contains('b') {
                        return Expr::Other("bytes".into());
                    }
                }
                // In an f-string, `{{` and `}}` stand for one brace.
                "string_content" if is_f => {
                    let text = self.text(c).replace("{{", "{").replace("}}", "}");
                    push_lit(&mut parts, &text);
                }
                "string_content" => push_lit(&mut parts, self.text(c)),
                "escape_interpolation" => {
                    let text = self.text(c);
                    push_lit(&mut parts, &text[..text.len().min(1)]);
                }
                "escape_sequence" => push_lit(&mut parts, &unescape(self.text(c))),
                "interpolation" => {
                    let e = child(c, Field::Expression)
                        .map_or(Expr::Other("interpolation".into()), |x| self.convert(x, d));
                    parts.push(FPart::Hole(e));
                }
                _ => {}
            }
        }
        if !is_f || parts.iter().all(|p| matches!(p, FPart::Lit(_))) {
            let mut s: CompactString = parts
                .into_iter()
                .map(|p| match p {
                    FPart::Lit(l) => l,
                    FPart::Hole(_) => CompactString::default(),
                })
                .collect();
            truncate(&mut s);
            Expr::Str(s)
        } else {
            parts.shrink_to_fit();
            Expr::FStr(parts)
        }
    }
}

fn push_lit(parts: &mut Vec<FPart>, text: &str) {
    if let Some(FPart::Lit(last)) = parts.last_mut() {
        last.push_str(text);
    } else {
        parts.push(FPart::Lit(text.into()));
    }
}

fn truncate(s: &mut CompactString) {
    if s.len() > MAX_STR {
        let mut cut = MAX_STR;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

fn unescape(seq: &str) -> String {
    match seq {
        "\\n" => "\n".into(),
        "\\t" => "\t".into(),
        "\\\\" => "\\".into(),
        "\\'" => "'".into(),
        "\\\"" => "\"".into(),
        "{{" => "{".into(),
        "}}" => "}".into(),
        other => other.to_string(),
    }
}

/// Adjacent literals `"a" "b"` and f-strings `f"{x}" "y"` joined into one.
fn join_strings(parts: Vec<Expr>) -> Expr {
    let mut out: Vec<FPart> = Vec::new();
    for p in parts {
        match p {
            Expr::Str(s) => push_lit(&mut out, &s),
            Expr::FStr(fs) => {
                for f in fs {
                    match f {
                        FPart::Lit(l) => push_lit(&mut out, &l),
                        hole => out.push(hole),
                    }
                }
            }
            other => return other,
        }
    }
    if out.iter().all(|p| matches!(p, FPart::Lit(_))) {
        let mut s: CompactString = out
            .into_iter()
            .map(|p| {
                if let FPart::Lit(l) = p {
                    l
                } else {
                    CompactString::default()
                }
            })
            .collect();
        truncate(&mut s);
        Expr::Str(s)
    } else {
        out.shrink_to_fit();
        Expr::FStr(out)
    }
}

pub(crate) fn node_text<'a>(src: &'a [u8], node: Node) -> &'a str {
    std::str::from_utf8(&src[node.byte_range()]).unwrap_or("")
}

pub(crate) fn line_of(node: Node) -> u32 {
    node.start_position().row as u32 + 1
}

pub(crate) fn children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

pub(crate) fn named_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

pub(crate) fn first_named(node: Node) -> Option<Node> {
    // By index rather than with a cursor, which costs an allocation: the
    // first named child is nearly always the answer.
    (0..node.named_child_count() as u32)
        .filter_map(|i| node.named_child(i))
        .find(|c| kind_name(*c) != "comment")
}
