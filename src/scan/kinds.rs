//! Syntax node kinds the extractor dispatches on, and the fields it reads,
//! looked up by numeric id.
//!
//! Every node of every file passes through the walk's dispatch, so it
//! matches on a small enum read from a table indexed by the grammar's kind
//! id rather than comparing kind names as strings. Fields likewise: asking
//! tree-sitter for a child by field *name* first compares that name with
//! every field name of the grammar.

use std::num::NonZeroU16;
use std::sync::OnceLock;

use tree_sitter::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Other,
    /// Nodes with nothing inside worth visiting: names, numbers, comments.
    Leaf,
    String,
    Import,
    Decorated,
    Decorator,
    FunctionDef,
    ClassDef,
    Call,
    Await,
    Assignment,
    TypeAlias,
    WithItem,
    Return,
    Raise,
    Yield,
    For,
    While,
    If,
    ElseOrElif,
    Try,
    Handler,
    Comparison,
    Match,
}

fn classify(name: &str) -> Kind {
    match name {
        "identifier" | "integer" | "float" | "comment" | "true" | "false" | "none" | "ellipsis"
        | "escape_sequence" | "keyword_identifier" => Kind::Leaf,
        "string" => Kind::String,
        "import_statement" | "import_from_statement" | "future_import_statement" => Kind::Import,
        "decorated_definition" => Kind::Decorated,
        "decorator" => Kind::Decorator,
        "function_definition" => Kind::FunctionDef,
        "class_definition" => Kind::ClassDef,
        "call" => Kind::Call,
        "await" => Kind::Await,
        "assignment" | "augmented_assignment" => Kind::Assignment,
        "type_alias_statement" => Kind::TypeAlias,
        "with_item" => Kind::WithItem,
        "return_statement" => Kind::Return,
        "raise_statement" => Kind::Raise,
        "yield" => Kind::Yield,
        "for_statement" => Kind::For,
        "while_statement" => Kind::While,
        "if_statement" => Kind::If,
        "else_clause" | "elif_clause" => Kind::ElseOrElif,
        "try_statement" => Kind::Try,
        "except_clause" | "except_group_clause" | "case_clause" => Kind::Handler,
        "comparison_operator" => Kind::Comparison,
        "match_statement" => Kind::Match,
        _ => Kind::Other,
    }
}

fn table() -> &'static [Kind] {
    static TABLE: OnceLock<Vec<Kind>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        (0..language.node_kind_count() as u16)
            .map(|id| match language.node_kind_for_id(id) {
                Some(name) if language.node_kind_is_named(id) => classify(name),
                _ => Kind::Other,
            })
            .collect()
    })
}

/// The kind name of `node`, as `Node::kind` gives it, read from a table:
/// `Node::kind` measures and checks the grammar's C string on every call.
pub(crate) fn kind_name(node: Node) -> &'static str {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        (0..language.node_kind_count() as u16)
            .map(|id| language.node_kind_for_id(id).unwrap_or("").to_string())
            .collect()
    });
    match (names.get(node.kind_id() as usize), node.kind_id()) {
        (Some(name), _) => name,
        // tree-sitter's own symbols, past the grammar's.
        (None, u16::MAX) => "ERROR",
        (None, _) => "_ERROR",
    }
}

pub(crate) fn kind_of(node: Node) -> Kind {
    table()
        .get(node.kind_id() as usize)
        .copied()
        .unwrap_or(Kind::Other)
}

/// The grammar fields the extractor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Alias,
    Argument,
    Arguments,
    Attribute,
    Body,
    Condition,
    Expression,
    Function,
    Key,
    Left,
    ModuleName,
    Name,
    Object,
    Operator,
    Parameters,
    ReturnType,
    Right,
    Subject,
    Subscript,
    Superclasses,
    Type,
    TypeParameters,
    Value,
}

impl Field {
    const ALL: [Field; 23] = [
        Field::Alias,
        Field::Argument,
        Field::Arguments,
        Field::Attribute,
        Field::Body,
        Field::Condition,
        Field::Expression,
        Field::Function,
        Field::Key,
        Field::Left,
        Field::ModuleName,
        Field::Name,
        Field::Object,
        Field::Operator,
        Field::Parameters,
        Field::ReturnType,
        Field::Right,
        Field::Subject,
        Field::Subscript,
        Field::Superclasses,
        Field::Type,
        Field::TypeParameters,
        Field::Value,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::Alias => "alias",
            Field::Argument => "argument",
            Field::Arguments => "arguments",
            Field::Attribute => "attribute",
            Field::Body => "body",
            Field::Condition => "condition",
            Field::Expression => "expression",
            Field::Function => "function",
            Field::Key => "key",
            Field::Left => "left",
            Field::ModuleName => "module_name",
            Field::Name => "name",
            Field::Object => "object",
            Field::Operator => "operator",
            Field::Parameters => "parameters",
            Field::ReturnType => "return_type",
            Field::Right => "right",
            Field::Subject => "subject",
            Field::Subscript => "subscript",
            Field::Superclasses => "superclasses",
            Field::Type => "type",
            Field::TypeParameters => "type_parameters",
            Field::Value => "value",
        }
    }

    /// The grammar's id of this field.
    pub(crate) fn id(self) -> NonZeroU16 {
        static IDS: OnceLock<Vec<NonZeroU16>> = OnceLock::new();
        IDS.get_or_init(|| {
            let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
            Field::ALL
                .iter()
                .map(|f| {
                    language
                        .field_id_for_name(f.name())
                        .expect("every field the extractor reads exists in the grammar")
                })
                .collect()
        })[self as usize]
    }
}

/// The child of `node` in `field`.
pub(crate) fn child<'t>(node: Node<'t>, field: Field) -> Option<Node<'t>> {
    node.child_by_field_id(field.id().get())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_dispatched_kind_exists_in_the_grammar() {
        let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
        for name in [
            "identifier",
            "string",
            "import_statement",
            "import_from_statement",
            "future_import_statement",
            "decorated_definition",
            "decorator",
            "function_definition",
            "class_definition",
            "call",
            "await",
            "assignment",
            "augmented_assignment",
            "type_alias_statement",
            "with_item",
            "return_statement",
            "raise_statement",
            "yield",
            "for_statement",
            "while_statement",
            "if_statement",
            "else_clause",
            "elif_clause",
            "try_statement",
            "except_clause",
            "case_clause",
            "comparison_operator",
            "match_statement",
        ] {
            assert_ne!(
                language.id_for_node_kind(name, true),
                0,
                "{name} is not a kind of the grammar"
            );
        }
    }

    #[test]
    fn kind_names_are_the_nodes_own_even_in_broken_code() {
        let src = b"import os\ndef f(x):\n    return x + )\nclass C[T = int]: pass\n";
        let tree = crate::scan::python_parser().parse(src, None).unwrap();
        assert!(tree.root_node().has_error());
        let mut cursor = tree.walk();
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            assert_eq!(super::kind_name(node), node.kind());
            stack.extend(node.children(&mut cursor));
        }
    }

    #[test]
    fn every_field_read_exists_in_the_grammar() {
        for (i, field) in super::Field::ALL.iter().enumerate() {
            assert_eq!(*field as usize, i, "Field::ALL is in declaration order");
            let _ = field.id();
        }
    }
}
