//! Userspace link emulation: the sans-IO impairment pipeline.
//!
//! The userspace engine relays every frame of an emulated link through one [`Pipeline`] per
//! direction. This module is the pure core of that relay: it owns no socket, no timer and no
//! clock. An I/O driver (AF_PACKET on the veth ends, timers) reads a frame, calls
//! [`Pipeline::handle`] with the current [`Instant`](crate::time::Instant), writes out
//! whatever [`Pipeline::poll_transmit`] returns, and sleeps until
//! [`Pipeline::poll_timeout`]:
//!
//! ```text
//!   veth a ──▶ driver ── handle(now, frame) ──┐
//!                                             ▼
//!   ┌─ Pipeline (a → b) ────────────────────────────────────────────────────────┐
//!   │  loss ─▶ rate + queue ─▶ delay + jitter ─▶ reorder / duplicate / corrupt  │
//!   └───────────────────────────────────────────────────────────────────────────┘
//!                                             │ poll_transmit(now): the frames now due
//!   veth b ◀── driver ◀───────────────────────┘ poll_timeout(): when to call again
//! ```
//!
//! The stages, in order; each file documents its own semantics:
//!
//! - `loss.rs`: lost or not (netem's correlated random, Gilbert-Elliott);
//! - `shaper.rs`: when the frame leaves the bottleneck (token bucket or Mahimahi trace,
//!   `trace.rs`), or tail drop at the queue in front of it;
//! - `dist.rs`: the jitter sample added to the delay (uniform, normal, pareto,
//!   paretonormal);
//! - `pipeline.rs`: sent ahead of delayed frames (reorder), sent twice, one bit flipped;
//!   the order frames leave in; `stats.rs` counts what happened.
//!
//! Invariants: the pipeline is a deterministic function of (configuration history, seed,
//! sequence of calls with their instants); a lost or refused frame never reaches a later
//! stage; frames leave in arrival order unless `reorder` sends one ahead; every random
//! choice comes from a per-stage xoshiro256++ stream derived from the link's seed
//! (`rng.rs`), so a scenario replays the same drops, delays and corruptions bit for bit.
//! No input panics: zero rates, empty frames, probabilities of 1 (or NaN) and absurd sizes
//! all have a defined outcome.

pub mod caps;
mod dist;
pub mod kernel;
mod loss;
pub mod pipeline;
pub mod port;
pub mod relay;
mod rng;
mod shaper;
pub mod stats;
pub mod trace;

#[cfg(test)]
mod tests;

pub use pipeline::{Packet, Pipeline};
pub use stats::Counters;
pub use trace::{Trace, TraceError};
