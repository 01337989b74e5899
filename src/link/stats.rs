//! What a link direction did, for `topolab inspect` and `bench links`.
//!
//! Packet counters count wire packets: a frame counts as its `segments` (a GSO super-frame
//! of 40 segments that passes adds 40 to `passed_packets`). `passed_bytes` counts the bytes
//! of the frames handed to the driver. A duplicate that is handed out counts as passed too,
//! so `passed_packets` can exceed what the sender sent.

/// Monotonic counters of one pipeline; they survive `reconfigure`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Frames handed out by `poll_transmit` (duplicates included), in packets.
    pub passed_packets: u64,
    /// Bytes of the frames handed out (`data.len()`).
    pub passed_bytes: u64,
    /// Lost by the loss stage.
    pub dropped_loss: u64,
    /// Refused by a full queue (or a rate of 0).
    pub dropped_queue: u64,
    /// Extra copies made by the duplicate stage.
    pub duplicated: u64,
    /// Frames sent ahead that actually overtook an earlier frame.
    pub reordered: u64,
    /// Copies with one bit flipped.
    pub corrupted: u64,
    /// Frames the pipeline passed but the kernel refused to take from the relay, again and
    /// again (counted in `passed_packets` too).
    #[serde(default)]
    pub dropped_tx: u64,
    /// Why this direction's relay stopped, if it did (the link then carries nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_error: Option<String>,
}
