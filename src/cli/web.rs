//! `topolab web LAB`: a live view of a running lab in the browser (issue 12). The server is
//! [`topolab::web`]; this reads the lab's plan, checks the address and binds it.

use crate::cli::labs::{read_plan, run_dir};
use crate::cli::out::{errln, outln};
use clap::Args;
use miette::{IntoDiagnostic, miette};
use std::net::SocketAddr;
use std::time::Duration;
use topolab::lab::LabName;

#[derive(Args, Clone)]
pub struct WebArgs {
    /// The lab (`topolab ls` lists them).
    pub lab: LabName,
    /// Address to listen on (loopback by default).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Checks `addr` (an address the user typed: explicit), prints the warning if any, and
/// binds it.
pub async fn bind(addr: SocketAddr) -> miette::Result<tokio::net::TcpListener> {
    if let Some(w) = topolab::web::check_listen(addr, true).into_diagnostic()? {
        errln!("{w}");
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| miette!("web view: cannot listen on {addr}: {e}"))
}

/// Serves the view of a lab just brought up by this process (`up --web`), in the
/// background, until the lab is down. Returns the line that tells where.
pub fn spawn_for(listener: tokio::net::TcpListener, lab: &topolab::lab::Lab) -> String {
    let (plan, dir) = (lab.plan().clone(), lab.run_dir().to_path_buf());
    let line = match listener.local_addr() {
        Ok(addr) => format!("web view of lab `{}`: http://{addr}/\n", lab.name()),
        Err(_) => String::new(),
    };
    tokio::spawn(async move {
        if let Err(e) = serve(listener, plan, dir).await {
            errln!("{e:?}");
        }
    });
    line
}

/// Serves the view of `lab` on `listener` until the lab is down.
pub async fn serve(
    listener: tokio::net::TcpListener,
    plan: topolab::compile::Plan,
    dir: std::path::PathBuf,
) -> miette::Result<()> {
    topolab::web::serve(
        listener,
        topolab::web::WebOptions {
            plan,
            run_dir: dir,
            interval: Duration::from_secs(1),
        },
    )
    .await
    .into_diagnostic()
}

pub async fn web(args: WebArgs) -> miette::Result<()> {
    let plan = read_plan(&args.lab)?;
    let listener = bind(args.listen).await?;
    let addr = listener.local_addr().into_diagnostic()?;
    outln!("web view of lab `{}`: http://{addr}/", args.lab);
    outln!("Press Ctrl-C to stop serving (the lab keeps running).");
    tokio::select! {
        r = serve(listener, plan, run_dir(&args.lab)) => r?,
        _ = tokio::signal::ctrl_c() => return Ok(()),
    }
    outln!("lab `{}` is down", args.lab);
    Ok(())
}
