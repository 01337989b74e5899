//! OpenFlow 1.3 (issue 10): sans-IO cores — no tokio, sockets, clocks or lab imports here.

pub mod classifier;
pub mod codec;
pub mod controller;
pub mod flowkey;
pub mod flowspec;
pub mod packet;
pub mod switch;
