//! Import roots and module names, detected from the layout of the tree.
//!
//! A root is a folder Python would have on `sys.path`. Two kinds are found:
//! the parent of every top-most regular package (a folder with
//! `__init__.py` whose parent has none), which covers flat, `src/` and
//! several-roots layouts alike; and the folder of every loose module (a file
//! in a folder without `__init__.py`). A loose module below another root is
//! named through it, as a PEP 420 namespace package portion, unless a
//! package root stands in between. A folder holding a Django project's
//! `manage.py` is a root too, even below a package, since that is where
//! the project runs from.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Module names and roots for a set of files.
#[derive(Debug, Default)]
pub struct Layout {
    /// Roots, `""` for the analysed folder itself, sorted.
    pub roots: Vec<String>,
    /// Per file path: its dotted module name and the root it is named from.
    pub modules: BTreeMap<String, ModuleName>,
    files: HashSet<String>,
    /// Folders that hold at least one Python file, at any depth.
    dirs: HashSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleName {
    pub name: String,
    pub root: String,
    /// `pkg/__init__.py`: the module is a package.
    pub is_package: bool,
}

/// Parent folder of a `/`-separated path, `""` at the top.
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}

fn file_stem(path: &str) -> &str {
    let name = &path[path.rfind('/').map_or(0, |i| i + 1)..];
    name.strip_suffix(".pyi")
        .or_else(|| name.strip_suffix(".py"))
        .unwrap_or(name)
}

impl Layout {
    /// Detects roots from `paths`, or uses `user_roots` when given.
    /// `entry_dirs` are folders a program is started from with the folder
    /// itself on `sys.path` (a Django project's `manage.py`): roots even
    /// inside a package.
    ///
    /// `portions` are folders without `__init__.py` that are PEP 420
    /// namespace package portions holding packages (`src/ns/` above
    /// `src/ns/pkg/__init__.py`): the climb to the top-most package goes
    /// through them, so the root is `src` and the package `ns.pkg`. See
    /// [`Layout::namespace_portions`] for how they are found.
    pub fn detect(
        paths: &[String],
        user_roots: &[String],
        entry_dirs: &HashSet<String>,
        portions: &HashSet<String>,
    ) -> Layout {
        let files: HashSet<String> = paths.iter().cloned().collect();
        let mut dirs = HashSet::new();
        for p in paths {
            let mut d = parent(p);
            loop {
                if !dirs.insert(d.to_string()) || d.is_empty() {
                    break;
                }
                d = parent(d);
            }
        }
        let is_pkg = |dir: &str| {
            !dir.is_empty()
                && (files.contains(&join(dir, "__init__.py"))
                    || files.contains(&join(dir, "__init__.pyi")))
        };

        // The top-most regular package a package folder belongs to. A
        // folder without `__init__.py` between two packages is a namespace
        // portion of the outer one (`app/feedback/incident` is
        // `app.feedback.incident` when `app` is a package), so the climb
        // goes on through it.
        // Django's `manage.py` runs with its own folder on `sys.path`, so
        // that folder is a root even inside a package (a stray
        // `__init__.py` above a service's code is common).
        let is_entry = |dir: &str| entry_dirs.contains(dir);
        let package_top = |dir: &'_ str| -> String {
            let mut top = dir.to_string();
            loop {
                while (is_pkg(parent(&top)) || portions.contains(parent(&top)))
                    && !is_entry(parent(&top))
                {
                    top = parent(&top).to_string();
                }
                if is_entry(parent(&top)) {
                    return top;
                }
                let mut d = parent(&top);
                let mut outer = None;
                while !d.is_empty() {
                    d = parent(d);
                    if is_entry(d) {
                        break;
                    }
                    if is_pkg(d) {
                        outer = Some(d.to_string());
                        break;
                    }
                }
                match outer {
                    Some(o) => top = o,
                    None => return top,
                }
            }
        };

        let mut package_roots = BTreeSet::new();
        let mut loose_roots = BTreeSet::new();
        let mut top_of = BTreeMap::new();
        for p in paths {
            let dir = parent(p);
            // The folder's own `__init__.py` keeps the name it has from
            // above; only the modules inside are named from the folder.
            if is_entry(dir) && !matches!(file_stem(p), "__init__") {
                package_roots.insert(dir.to_string());
                top_of.insert(p.clone(), dir.to_string());
            } else if is_pkg(dir) {
                let top = package_top(dir);
                let top = top.as_str();
                package_roots.insert(parent(top).to_string());
                top_of.insert(p.clone(), parent(top).to_string());
            } else {
                loose_roots.insert(dir.to_string());
            }
        }

        let user: Vec<String> = user_roots
            .iter()
            .map(|r| r.trim_matches('/').trim_start_matches("./").to_string())
            .map(|r| if r == "." { String::new() } else { r })
            .collect();

        let mut modules = BTreeMap::new();
        for p in paths {
            let dir = parent(p);
            let root = if !user.is_empty() {
                user.iter()
                    .filter(|r| is_ancestor(r, dir))
                    .max_by_key(|r| r.len())
                    .cloned()
                    .unwrap_or_else(|| dir.to_string())
            } else if let Some(top) = top_of.get(p) {
                top.clone()
            } else {
                // A loose module: climb through namespace folders to the
                // highest root above it. A regular package above it (a
                // namespace portion inside a package) names it through that
                // package's root; a package root on the way stops the climb.
                let mut best = dir.to_string();
                let mut d = dir;
                loop {
                    if is_pkg(d) {
                        best = parent(&package_top(d)).to_string();
                        break;
                    }
                    if package_roots.contains(d) {
                        best = d.to_string();
                        break;
                    }
                    if loose_roots.contains(d) {
                        best = d.to_string();
                    }
                    if d.is_empty() {
                        break;
                    }
                    d = parent(d);
                }
                best
            };
            let rel = if root.is_empty() {
                p.as_str()
            } else {
                &p[root.len() + 1..]
            };
            let mut parts: Vec<&str> = rel.split('/').collect();
            let stem = file_stem(p);
            let is_package = stem == "__init__";
            parts.pop();
            if !is_package {
                parts.push(stem);
            }
            let name = parts.join(".");
            modules.insert(
                p.clone(),
                ModuleName {
                    name,
                    root,
                    is_package,
                },
            );
        }

        let roots: BTreeSet<String> = if user.is_empty() {
            modules.values().map(|m| m.root.clone()).collect()
        } else {
            user.into_iter().collect()
        };
        Layout {
            roots: roots.into_iter().collect(),
            modules,
            files,
            dirs,
        }
    }

    /// Folders without `__init__.py` that hold top-level packages and are
    /// really namespace package portions, to be passed back to
    /// [`Layout::detect`].
    ///
    /// A root `R` (a folder without `__init__.py` holding packages `T`) is
    /// taken as a portion of namespace `basename(R)` when the code names
    /// its packages that way (`imported` are the absolute imports of the
    /// scan: more of them start with `R.T` than with `T`), and the folder
    /// looks like one: it sits directly in a `src/` folder (the src layout,
    /// where `src/` is what goes on `sys.path`), or another root has a
    /// top-level package of the same name (a namespace split over several
    /// distributions, with `pkgutil.extend_path` or without `__init__.py`).
    /// Both conditions are needed: a service folder such as `backend/` above
    /// `backend/app/` is named `app` by its own code, not `backend.app`.
    pub fn namespace_portions<'a>(
        &self,
        imported: impl IntoIterator<Item = &'a str>,
    ) -> HashSet<String> {
        // Per candidate folder: its top-level packages.
        let mut tops: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for m in self.modules.values() {
            if m.is_package && !m.root.is_empty() && !m.name.contains('.') {
                tops.entry(m.root.as_str())
                    .or_default()
                    .push(m.name.as_str());
            }
        }
        let top_names: BTreeMap<&str, Vec<&str>> =
            self.modules.values().fold(BTreeMap::new(), |mut acc, m| {
                if !m.name.contains('.') {
                    acc.entry(m.name.as_str())
                        .or_default()
                        .push(m.root.as_str());
                }
                acc
            });
        let is_pkg = |dir: &str| {
            self.files.contains(&join(dir, "__init__.py"))
                || self.files.contains(&join(dir, "__init__.pyi"))
        };
        let folder_name = |dir: &str| dir.rsplit('/').next().unwrap_or("").to_string();
        tops.retain(|root, _| {
            if is_pkg(root) {
                return false;
            }
            let up = parent(root);
            let in_src = !up.is_empty() && folder_name(up) == "src" && !is_pkg(up);
            let shared = top_names
                .get(folder_name(root).as_str())
                .is_some_and(|roots| roots.iter().any(|r| r != root));
            in_src || shared
        });
        if tops.is_empty() {
            return HashSet::new();
        }
        // Votes per candidate: imports through the namespace name, and
        // imports of its packages by their bare name.
        let mut long: BTreeMap<&str, usize> = BTreeMap::new();
        let mut short: BTreeMap<&str, usize> = BTreeMap::new();
        let starts = |module: &str, name: &str| {
            module == name
                || module
                    .strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with('.'))
        };
        let names: Vec<(&str, String, &str)> = tops
            .iter()
            .flat_map(|(root, packages)| {
                let ns = folder_name(root);
                packages
                    .iter()
                    .map(move |t| (*root, format!("{ns}.{t}"), *t))
            })
            .collect();
        for module in imported {
            for (root, through_ns, bare) in &names {
                if starts(module, through_ns) {
                    *long.entry(root).or_default() += 1;
                } else if starts(module, bare) {
                    *short.entry(root).or_default() += 1;
                }
            }
        }
        tops.keys()
            .filter(|r| long.get(*r).copied().unwrap_or(0) > short.get(*r).copied().unwrap_or(0))
            .map(|r| r.to_string())
            .collect()
    }

    pub fn has_file(&self, path: &str) -> bool {
        self.files.contains(path)
    }

    /// The file of module `dotted` under folder `base`: `a/b.py`, `a/b.pyi`
    /// or `a/b/__init__.py`.
    pub fn module_file(&self, base: &str, dotted: &str) -> Option<String> {
        // Name resolution asks this very often: one buffer holds each
        // candidate in turn, cut back to the stem after each try.
        let mut path = String::with_capacity(base.len() + dotted.len() + 16);
        path.push_str(base);
        if !dotted.is_empty() {
            if !base.is_empty() {
                path.push('/');
            }
            path.extend(dotted.chars().map(|c| if c == '.' { '/' } else { c }));
            let stem = path.len();
            for ext in [".py", ".pyi"] {
                path.push_str(ext);
                if self.files.contains(&path) {
                    return Some(path);
                }
                path.truncate(stem);
            }
        }
        let stem = path.len();
        for init in ["__init__.py", "__init__.pyi"] {
            if stem > 0 {
                path.push('/');
            }
            path.push_str(init);
            if self.files.contains(&path) {
                return Some(path);
            }
            path.truncate(stem);
        }
        None
    }

    /// Whether `base/dotted` is a folder holding Python files: a namespace
    /// package when it has no `__init__.py`.
    pub fn is_namespace_dir(&self, base: &str, dotted: &str) -> bool {
        let rel = dotted.replace('.', "/");
        self.dirs.contains(&join(base, &rel))
    }
}

fn is_ancestor(root: &str, dir: &str) -> bool {
    root.is_empty() || dir == root || dir.starts_with(&format!("{root}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(paths: &[&str]) -> Vec<(String, String)> {
        let paths: Vec<String> = paths.iter().map(|s| s.to_string()).collect();
        let l = Layout::detect(&paths, &[], &HashSet::new(), &HashSet::new());
        l.modules
            .iter()
            .map(|(p, m)| (p.clone(), m.name.clone()))
            .collect()
    }

    #[test]
    fn src_layout_names_packages_from_src() {
        let n = names(&["setup.py", "src/lib/__init__.py", "src/lib/core.py"]);
        assert!(n.contains(&("src/lib/core.py".into(), "lib.core".into())));
        assert!(n.contains(&("src/lib/__init__.py".into(), "lib".into())));
    }

    #[test]
    fn loose_module_under_root_is_a_namespace_portion() {
        let n = names(&["consumer.py", "ns/plugins/alpha.py"]);
        assert!(n.contains(&("ns/plugins/alpha.py".into(), "ns.plugins.alpha".into())));
    }

    #[test]
    fn several_roots_side_by_side() {
        let n = names(&[
            "backend/app/__init__.py",
            "backend/app/main.py",
            "worker/jobs/__init__.py",
            "worker/jobs/run.py",
        ]);
        assert!(n.contains(&("backend/app/main.py".into(), "app.main".into())));
        assert!(n.contains(&("worker/jobs/run.py".into(), "jobs.run".into())));
    }
}
