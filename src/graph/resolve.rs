//! Resolving each import statement to where it ends.
//!
//! Every import ends as exactly one of: a first-party file, the standard
//! library, a third-party package, or unresolved (it looks local, or is
//! relative, but no file matches). Nothing is dropped: an import that cannot
//! be placed is still listed, with the reason.

use std::collections::HashMap;
use std::sync::Arc;

use compact_str::CompactString;
use schemars::JsonSchema;
use serde::Serialize;

use super::layout::{Layout, ModuleName, join, parent};
use super::tables;
use crate::scan::facts::{Import, ImportKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    FirstParty,
    Stdlib,
    ThirdParty,
    Unresolved,
}

/// One import statement (or one target of it: `from pkg import mod, name`
/// can reach two files) and where it ends.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportEdge {
    // Paths are shared by every edge naming the same file: a large
    // repository has tens of thousands of edges.
    /// The importing file.
    pub from: Arc<str>,
    /// The imported file, for first-party imports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Arc<str>>,
    /// The absolute dotted module the statement names (relative imports are
    /// made absolute when they can be).
    #[schemars(with = "String")]
    pub module: CompactString,
    /// Names imported from the module, as written (`from m import a, b`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<String>")]
    pub names: Vec<CompactString>,
    pub line: u32,
    pub kind: ImportKind,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub conditional: bool,
    pub resolution: Resolution,
    /// Top-level package of a third-party or standard library import.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub package: Option<CompactString>,
    /// Imported names whose definition lives in another file than `to`,
    /// reached through re-exports (`from .impl import X` in a package
    /// `__init__.py`) or star imports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reexported: Vec<Origin>,
    /// Why an import is unresolved, or a note on how it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Where an imported name is really defined.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Origin {
    #[schemars(with = "String")]
    pub name: CompactString,
    /// The file that defines it.
    pub path: Arc<str>,
    pub line: u32,
}

/// Every file path once, shared by the edges that name it.
pub type SharedPaths<'a> = HashMap<&'a str, Arc<str>>;

/// The file whose imports are being resolved.
struct Importer<'a> {
    path: Arc<str>,
    shared: &'a SharedPaths<'a>,
}

impl Importer<'_> {
    /// The shared copy of a file path found by the layout.
    fn file(&self, path: String) -> Arc<str> {
        self.shared
            .get(path.as_str())
            .cloned()
            .unwrap_or_else(|| path.into())
    }
}

impl std::ops::Deref for Importer<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.path
    }
}

/// Resolves the imports of the file at `from`.
pub fn resolve_file(
    layout: &Layout,
    shared: &SharedPaths<'_>,
    from: &str,
    imports: &[Import],
    out: &mut Vec<ImportEdge>,
) {
    let Some(me) = layout.modules.get(from) else {
        return;
    };
    let from = Importer {
        path: shared.get(from).cloned().unwrap_or_else(|| from.into()),
        shared,
    };
    for imp in imports {
        resolve_one(layout, &from, me, imp, out);
    }
}

fn edge(from: &Importer, imp: &Import, module: String, resolution: Resolution) -> ImportEdge {
    ImportEdge {
        from: from.path.clone(),
        to: None,
        module: module.into(),
        names: imp.names.iter().map(|n| n.name.clone()).collect(),
        line: imp.line,
        kind: imp.kind,
        conditional: imp.conditional,
        resolution,
        package: None,
        reexported: Vec::new(),
        reason: None,
    }
}

fn resolve_one(
    layout: &Layout,
    from: &Importer,
    me: &ModuleName,
    imp: &Import,
    out: &mut Vec<ImportEdge>,
) {
    if imp.level > 0 {
        return resolve_relative(layout, from, me, imp, out);
    }
    if imp.module == "__future__" {
        let mut e = edge(from, imp, imp.module.to_string(), Resolution::Stdlib);
        e.package = Some("__future__".into());
        out.push(e);
        return;
    }
    let top = imp.module.split('.').next().unwrap_or("").to_string();
    let own = parent(from);
    // In a script's own folder, a module named like the file is the library
    // the file shadows (`yaml.py` importing `yaml`), not the file itself.
    let shadows = |base: &str, module: &str| {
        base == own && me.root != own && layout.module_file(base, module).as_deref() == Some(from)
    };
    let bases: Vec<String> = search_bases(layout, from, me)
        .into_iter()
        .filter(|b| !shadows(b, &imp.module) && !shadows(b, &top))
        .collect();
    for base in &bases {
        if found_under(layout, base, from, imp, out) {
            return;
        }
    }
    if tables::is_stdlib(&top) {
        let mut e = edge(from, imp, imp.module.to_string(), Resolution::Stdlib);
        e.package = Some(top.into());
        out.push(e);
        return;
    }
    // A name that is first-party at its top but has no file below is a
    // broken local import, not a third-party package.
    // A folder without `__init__.py` is only a namespace portion, which any
    // regular package of the same name elsewhere on `sys.path` wins over: an
    // import that nothing below such a folder satisfies is taken for the
    // installed package (`import docker.errors` beside a `docker/` folder of
    // deployment scripts).
    if let Some(base) = bases.iter().find(|b| layout.module_file(b, &top).is_some()) {
        let mut e = edge(from, imp, imp.module.to_string(), Resolution::Unresolved);
        e.reason = Some(format!(
            "`{top}` is a first-party {} but no module `{}` exists below it",
            if base.is_empty() {
                "module".to_string()
            } else {
                format!("module under `{base}/`")
            },
            imp.module
        ));
        out.push(e);
        return;
    }
    let mut e = edge(from, imp, imp.module.to_string(), Resolution::ThirdParty);
    e.package = Some(tables::package_key(&imp.module).into());
    out.push(e);
}

/// Folders an absolute import is looked up under, first the importing
/// file's own root, then every other root, then (for a loose script) its
/// own folder, as `python script.py` would.
///
/// Python 3 has no implicit relative imports: a module of a regular
/// package (its folder has an `__init__.py`) is imported through a root,
/// so `import validators` in `app/utils/validators.py` means the top-level
/// `validators`. A file in a folder without `__init__.py` is taken for a
/// script run from there, even below a package (`data/sets/x/load.py`
/// importing its neighbour `helpers`), since such folders rarely hold
/// modules imported as a namespace portion.
fn search_bases(layout: &Layout, from: &str, me: &ModuleName) -> Vec<String> {
    let mut bases = vec![me.root.clone()];
    for r in &layout.roots {
        if !bases.contains(r) {
            bases.push(r.clone());
        }
    }
    let own = parent(from).to_string();
    let in_package =
        layout.has_file(&join(&own, "__init__.py")) || layout.has_file(&join(&own, "__init__.pyi"));
    if !in_package && !bases.contains(&own) {
        bases.push(own);
    }
    bases
}

/// Tries to place `imp` below `base`, pushing its edges when it can.
fn found_under(
    layout: &Layout,
    base: &str,
    from: &Importer,
    imp: &Import,
    out: &mut Vec<ImportEdge>,
) -> bool {
    let target = layout.module_file(base, &imp.module);
    let namespace =
        target.is_none() && !imp.module.is_empty() && layout.is_namespace_dir(base, &imp.module);
    if target.is_none() && !namespace {
        return false;
    }
    // Names imported from a namespace package can only be its submodules.
    if namespace
        && imp.from
        && !imp.star
        && imp.names.iter().any(|n| {
            let sub = format!("{}.{}", imp.module, n.name);
            layout.module_file(base, &sub).is_none() && !layout.is_namespace_dir(base, &sub)
        })
    {
        return false;
    }
    let module = imp.module.to_string();
    push_targets(layout, base, from, imp, module, target, out);
    true
}

/// Pushes the edges of an import whose module is found at `target` (or is a
/// namespace folder when `target` is `None`). For `from m import a, b`, a
/// name that is itself a submodule gets an edge of its own.
fn push_targets(
    layout: &Layout,
    base: &str,
    from: &Importer,
    imp: &Import,
    module: String,
    target: Option<String>,
    out: &mut Vec<ImportEdge>,
) {
    let mut rest = Vec::new();
    if imp.from {
        for n in &imp.names {
            let sub = if module.is_empty() {
                n.name.to_string()
            } else {
                format!("{module}.{}", n.name)
            };
            match layout.module_file(base, &sub) {
                Some(file) if Some(&file) != target.as_ref() => {
                    let mut e = edge(from, imp, sub, Resolution::FirstParty);
                    e.names = vec![n.name.clone()];
                    e.to = Some(from.file(file));
                    out.push(e);
                }
                _ => rest.push(n.name.clone()),
            }
        }
    }
    if !imp.from || imp.star || !rest.is_empty() {
        let mut e = edge(from, imp, module, Resolution::FirstParty);
        e.names = rest;
        match target {
            Some(t) => e.to = Some(from.file(t)),
            None => e.reason = Some("namespace package (a folder without `__init__.py`)".into()),
        }
        out.push(e);
    }
}

fn resolve_relative(
    layout: &Layout,
    from: &Importer,
    me: &ModuleName,
    imp: &Import,
    out: &mut Vec<ImportEdge>,
) {
    let dots = ".".repeat(imp.level as usize);
    let written = format!("{dots}{}", imp.module);
    // The package the file belongs to, as dotted parts.
    let mut package: Vec<&str> = if me.name.is_empty() {
        Vec::new()
    } else {
        me.name.split('.').collect()
    };
    if !me.is_package {
        package.pop();
    }
    let up = imp.level as usize - 1;
    if package.is_empty() || up >= package.len() {
        let mut e = edge(from, imp, written, Resolution::Unresolved);
        e.reason = Some(if package.is_empty() {
            "relative import outside a package".into()
        } else {
            "relative import goes above the top-level package".into()
        });
        out.push(e);
        return;
    }
    package.truncate(package.len() - up);
    let base_pkg = package.join(".");
    let absolute = match (base_pkg.is_empty(), imp.module.is_empty()) {
        (_, true) => base_pkg.clone(),
        (true, false) => imp.module.to_string(),
        (false, false) => format!("{base_pkg}.{}", imp.module),
    };
    let base_dir = join(&me.root, &package.join("/"));
    let base_dir = base_dir.trim_matches('/').to_string();
    let target = layout.module_file(&base_dir, &imp.module);
    let namespace = target.is_none() && layout.is_namespace_dir(&base_dir, &imp.module);
    if target.is_none() && !namespace {
        let mut e = edge(from, imp, absolute, Resolution::Unresolved);
        e.reason = Some(format!(
            "no module `{written}` relative to `{}`",
            &*from.path
        ));
        out.push(e);
        return;
    }
    // Submodules named in `from . import x` live under the base folder.
    let mut shifted = imp.clone();
    shifted.level = 0;
    let root_base = me.root.clone();
    let full = Import {
        module: absolute.as_str().into(),
        ..shifted
    };
    push_targets(layout, &root_base, from, &full, absolute, target, out);
}
