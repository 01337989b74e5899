//! The CLI's commands, one module per group. The library does the work; these render.

pub mod bench;
pub mod files;
pub mod labs;
pub mod up;
