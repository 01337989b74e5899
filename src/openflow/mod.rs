//! OpenFlow 1.3 (issue 10): a sans-IO codec, switch and controller.

pub mod classifier;
pub mod codec;
pub mod flowkey;
pub mod packet;
