//! The `bgp` daemon: a tokio driver around [`crate::bgp::speaker::Speaker`] (helper D).

use std::io;

use super::DaemonArgs;

pub async fn run(args: &DaemonArgs) -> io::Result<()> {
    let _config: crate::bgp::config::SpeakerConfig = super::read_config(args)?;
    Err(io::Error::other("the bgp daemon is not built yet"))
}
