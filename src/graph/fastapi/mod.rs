//! FastAPI and Starlette applications, read without importing them.

pub mod models;
pub mod sockets;
