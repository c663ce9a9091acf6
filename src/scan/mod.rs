//! Finding Python files and turning each one into [`FileFacts`].
//!
//! [`discover`] walks the tree; [`analyze_bytes`] is the pure per-file step
//! `(path, bytes) -> outcome` that every executor in `queue` runs.

mod discover;
pub mod expr;
pub mod extract;
pub mod facts;
mod kinds;

pub use discover::{DiscoverOptions, Discovered, SkippedDir, SourceFile, discover};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use facts::FileFacts;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Analyzed,
    Skipped,
    Failed,
}

/// The result of analysing one file: its facts, or why there are none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Outcome {
    pub status: Status,
    /// Why the file was skipped or failed, or a note on how it was read.
    pub reason: Option<String>,
    pub facts: Option<FileFacts>,
}

impl Outcome {
    pub fn skipped(reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Skipped,
            reason: Some(reason.into()),
            facts: None,
        }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Failed,
            reason: Some(reason.into()),
            facts: None,
        }
    }
}

/// A tree-sitter parser for Python. Parsers are not `Sync`: make one per
/// worker thread.
pub fn python_parser() -> tree_sitter::Parser {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("the bundled tree-sitter-python grammar matches the tree-sitter runtime");
    parser
}

/// Analyses one file from its bytes alone. Never panics on any input: text
/// problems become a skipped outcome, and a panic inside the extractor is
/// caught and reported as a failure.
pub fn analyze_bytes(parser: &mut tree_sitter::Parser, bytes: &[u8]) -> Outcome {
    if bytes.contains(&0) {
        return Outcome::skipped("contains NUL bytes: not a Python source file");
    }
    let mut note = None;
    let decoded;
    let text: &[u8] = match std::str::from_utf8(bytes) {
        Ok(_) => bytes,
        Err(err) => match declared_encoding(bytes) {
            Some(enc) if is_latin1(&enc) => {
                decoded = bytes.iter().map(|&b| b as char).collect::<String>();
                note = Some(format!("decoded as {enc}, as its coding declaration says"));
                decoded.as_bytes()
            }
            Some(enc) => {
                return Outcome::skipped(format!(
                    "declares the encoding {enc}, which explore does not decode"
                ));
            }
            None => {
                let line = 1 + bytes[..err.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                return Outcome::skipped(format!(
                    "not valid UTF-8 (byte 0x{:02X} on line {line}) and no coding declaration",
                    bytes[err.valid_up_to()]
                ));
            }
        },
    };
    let run = std::panic::AssertUnwindSafe(|| extract::extract(parser, text));
    match std::panic::catch_unwind(run) {
        Ok(facts) => Outcome {
            status: Status::Analyzed,
            reason: note,
            facts: Some(facts),
        },
        Err(_) => {
            // The parser may be left mid-parse; give it a clean slate.
            parser.reset();
            Outcome::failed("internal error while extracting facts (please report this file)")
        }
    }
}

/// The PEP 263 coding declaration in the first two lines, lower-cased.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    for line in bytes.split(|&b| b == b'\n').take(2) {
        let line = String::from_utf8_lossy(line);
        let trimmed = line.trim_start();
        if !trimmed.starts_with('#') {
            continue;
        }
        if let Some(pos) = trimmed.find("coding") {
            let rest = &trimmed[pos + "coding".len()..];
            let rest = rest.strip_prefix([':', '=']).map(str::trim_start)?;
            let enc: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                .collect();
            if !enc.is_empty() {
                return Some(enc.to_ascii_lowercase());
            }
        }
    }
    None
}

fn is_latin1(enc: &str) -> bool {
    matches!(
        enc.replace('_', "-").as_str(),
        "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1"
    )
}
