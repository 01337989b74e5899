//! BGP-4 (issue 11): sans-IO cores — no tokio, sockets, clocks or lab imports here.

pub mod codec;
pub mod decision;
pub mod fsm;
