//! `topolab web LAB`: a live view of a running lab in the browser (issue 12).

use clap::Args;
use std::net::SocketAddr;
use topolab::lab::LabName;

#[derive(Args, Clone)]
pub struct WebArgs {
    /// The lab (`topolab ls` lists them).
    pub lab: LabName,
    /// Address to listen on (loopback by default).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

pub async fn web(args: WebArgs) -> miette::Result<()> {
    Err(miette::miette!(
        "web view of lab `{}` on {}: not built yet",
        args.lab,
        args.listen
    ))
}
