//! Executors: who turns files into facts.
//!
//! The pipeline asks for "outcomes for these files" and does not care who
//! answers. The local executor runs the per-file step on rayon, one
//! tree-sitter parser per worker thread. Because that step is a pure
//! function of a file's bytes, another executor can answer from a cache or
//! from workers on other machines without changing anything above it.

use std::path::Path;

use rayon::prelude::*;

use crate::scan::{self, Outcome, SourceFile};

/// Limits applied to every file before it is parsed.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_file_size: u64,
}

/// Something that can analyse a batch of files.
pub trait Executor {
    /// One outcome per file, in the order of `files`. `tick` is called once
    /// per finished file, from any thread.
    fn analyze(
        &self,
        files: &[SourceFile],
        limits: Limits,
        tick: &(dyn Fn() + Sync),
    ) -> Vec<Outcome>;
}

/// Runs the per-file step on the current rayon pool.
pub struct Local;

impl Executor for Local {
    fn analyze(
        &self,
        files: &[SourceFile],
        limits: Limits,
        tick: &(dyn Fn() + Sync),
    ) -> Vec<Outcome> {
        files
            .par_iter()
            .map_init(scan::python_parser, |parser, file| {
                let outcome = match &file.excluded {
                    Some(reason) => Outcome::skipped(reason.clone()),
                    None => match read(&file.abs, limits) {
                        Ok(bytes) => scan::analyze_bytes(parser, &bytes),
                        Err(outcome) => *outcome,
                    },
                };
                tick();
                outcome
            })
            .collect()
    }
}

/// Reads a file, or says why it will not be analysed.
pub fn read(path: &Path, limits: Limits) -> Result<Vec<u8>, Box<Outcome>> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Box::new(Outcome::failed(format!("cannot read: {}", io_reason(&e)))))?;
    if meta.len() > limits.max_file_size {
        return Err(Box::new(Outcome::skipped(format!(
            "larger than --max-file-size ({} bytes > {} bytes)",
            meta.len(),
            limits.max_file_size
        ))));
    }
    std::fs::read(path)
        .map_err(|e| Box::new(Outcome::failed(format!("cannot read: {}", io_reason(&e)))))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::NotFound => "file vanished during the scan".into(),
        _ => e.to_string(),
    }
}
