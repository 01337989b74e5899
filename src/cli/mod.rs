//! The CLI's commands, one module per group. The library does the work; these render.

pub mod agent;
pub mod bench;
pub mod bench_bgp;
pub mod bench_links;
pub mod bench_ofswitch;
pub mod bench_openflow;
pub mod bench_probes;
pub mod bench_services;
pub mod bench_web;
pub mod bgp;
pub mod console;
pub mod files;
pub mod import;
pub mod k8s;
pub mod labs;
pub mod node;
pub mod openflow;
pub mod out;
pub mod probe;
pub mod shard_plan;
pub mod shards;
pub mod test;
pub mod up;
pub mod web;
