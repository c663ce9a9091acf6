//! What a websocket endpoint does with its connection.

use schemars::JsonSchema;
use serde::Serialize;

use crate::graph::Program;

/// What a websocket handler receives, sends, polls and dispatches on.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct SocketBehaviour {}

/// A class that keeps open websockets and sends to them.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConnectionManager {
    /// `module:qualname`.
    pub class: String,
    pub file: String,
    pub line: u32,
}

pub fn socket_behaviour(_program: &Program, _file: usize, _scope: u32) -> SocketBehaviour {
    SocketBehaviour::default()
}

pub fn connection_managers(_program: &Program) -> Vec<ConnectionManager> {
    Vec::new()
}
