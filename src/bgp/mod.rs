//! BGP-4 (issue 11): sans-IO pieces — no tokio, sockets, clocks or lab imports here.

pub mod codec;
