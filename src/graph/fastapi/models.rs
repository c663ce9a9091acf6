//! Pydantic models and settings classes.

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::Program;

/// A `pydantic.BaseModel` subclass, direct or indirect.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Model {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
}

/// A `BaseSettings` subclass.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SettingsClass {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
}

pub fn pydantic_models(_program: &Program) -> Vec<Model> {
    Vec::new()
}

pub fn settings_classes(_program: &Program) -> Vec<SettingsClass> {
    Vec::new()
}
