//! Tables shipped as data: the standard library's module names and the
//! catalogue of well-known third-party packages.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

const STDLIB: &str = include_str!("data/stdlib.txt");
const PACKAGES: &str = include_str!("data/packages.tsv");

fn stdlib() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        STDLIB
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split('\t').next())
            .map(str::trim)
            .collect()
    })
}

/// Whether `top` is a top-level module of the standard library of any
/// Python from 3.8 to 3.14.
pub fn is_stdlib(top: &str) -> bool {
    stdlib().contains(top)
}

/// One row of the package catalogue.
#[derive(Debug, Clone, Copy)]
pub struct PackageInfo {
    pub import_name: &'static str,
    pub distribution: &'static str,
    pub category: &'static str,
    pub description: &'static str,
    pub docs: &'static str,
}

fn catalogue() -> &'static HashMap<&'static str, PackageInfo> {
    static MAP: OnceLock<HashMap<&'static str, PackageInfo>> = OnceLock::new();
    MAP.get_or_init(|| {
        PACKAGES
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                let info = PackageInfo {
                    import_name: f.next()?,
                    distribution: f.next()?,
                    category: f.next()?,
                    description: f.next()?,
                    docs: f.next()?,
                };
                Some((info.import_name, info))
            })
            .collect()
    })
}

/// The key a third-party import is grouped under: the longest dotted
/// prefix the catalogue knows (`google.cloud.storage`), else the top-level
/// name.
pub fn package_key(module: &str) -> String {
    let cat = catalogue();
    let mut prefix = module;
    loop {
        if cat.contains_key(prefix) {
            return prefix.to_string();
        }
        match prefix.rfind('.') {
            Some(i) => prefix = &prefix[..i],
            None => break,
        }
    }
    module.split('.').next().unwrap_or(module).to_string()
}

pub fn package_info(key: &str) -> Option<PackageInfo> {
    catalogue().get(key).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdlib_covers_removed_and_new_modules() {
        assert!(is_stdlib("os"));
        assert!(is_stdlib("distutils"));
        assert!(is_stdlib("tomllib"));
        assert!(!is_stdlib("requests"));
    }

    #[test]
    fn package_keys_prefer_the_catalogued_prefix() {
        assert_eq!(package_key("fastapi.security"), "fastapi");
        assert_eq!(package_key("unknown_pkg.sub"), "unknown_pkg");
    }

    #[test]
    fn catalogue_rows_are_well_formed() {
        let known = [
            "web",
            "task-queue",
            "datastore",
            "cache",
            "messaging",
            "analytics",
            "monitoring",
            "logging",
            "cloud",
            "payments",
            "llm",
            "email-sms",
            "auth",
            "http-client",
            "validation",
            "config",
            "testing",
            "data",
            "other",
        ];
        assert!(catalogue().len() > 100);
        for info in catalogue().values() {
            assert!(
                known.contains(&info.category),
                "{} has category {}",
                info.import_name,
                info.category
            );
            assert!(
                info.docs.starts_with("https://"),
                "{} docs {}",
                info.import_name,
                info.docs
            );
        }
    }
}
