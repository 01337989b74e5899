//! BGP-4 (issue 11): sans-IO cores — no tokio, sockets, clocks or lab imports here.

pub mod attrs;
pub mod codec;
pub mod config;
pub mod decision;
pub mod fsm;
mod fxhash;
pub mod inject;
pub mod mrt;
pub mod policy;
pub(crate) mod prefix_map;
pub mod speaker;
