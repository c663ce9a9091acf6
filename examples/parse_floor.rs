//! Parse floor: the least work any tree-sitter based import mapper must do.
//!
//! It walks a directory the way `explore` does (the `ignore` crate's standard
//! filters, so `.gitignore` is honoured even outside a git repository and
//! hidden entries are skipped; symlinks are not followed; only `.py` and
//! `.pyi` files), then reads and parses every file in parallel on rayon's
//! pool, one `tree_sitter::Parser` per worker, and drops each tree at once.
//! Nothing is extracted and nothing is resolved.
//!
//! `bench/run.sh` compares the wall time of a cold `explore` run against this
//! program on the same corpus with the same thread count (`RAYON_NUM_THREADS`);
//! the target is explore ≤ 1.25 × the floor.
//!
//! Usage: `cargo run --release --example parse_floor -- DIR`

use std::path::PathBuf;
use std::time::Instant;

use ignore::WalkBuilder;
use rayon::prelude::*;
use tree_sitter::Parser;

fn main() -> anyhow::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: parse_floor DIR"))?;
    let start = Instant::now();

    let files: Vec<PathBuf> = WalkBuilder::new(&root)
        .standard_filters(true)
        .hidden(true)
        .follow_links(false)
        .require_git(false)
        .build()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .map(|entry| entry.into_path())
        .filter(|path| path.extension().is_some_and(|e| e == "py" || e == "pyi"))
        .collect();

    // (bytes read, files whose tree has an ERROR or MISSING node)
    let (bytes, with_errors) = files
        .par_iter()
        .map_init(
            || {
                let mut parser = Parser::new();
                parser
                    .set_language(&tree_sitter_python::LANGUAGE.into())
                    .expect("tree-sitter-python grammar matches the tree-sitter version");
                parser
            },
            |parser, path| {
                let Ok(source) = std::fs::read(path) else {
                    return (0, 0);
                };
                let tree = parser.parse(&source, None);
                let broken = tree.is_some_and(|t| t.root_node().has_error());
                (source.len() as u64, u64::from(broken))
            },
        )
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));

    eprintln!(
        "parse_floor: {} files, {} bytes, {} with syntax errors, {:.3} s on {} threads",
        files.len(),
        bytes,
        with_errors,
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
    );
    Ok(())
}
