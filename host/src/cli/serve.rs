//! `vigil serve`: the long-running server, until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use vigil::config::Config;
use vigil::server::{ServeOptions, Server};

use super::EXIT_OK;
use super::run::read_mappings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Tenants file (TOML): tenants, their rules and limits, and the `[server]` table.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Address to listen on, overriding `[server] listen` (`127.0.0.1:0` picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// An extra mapping table (TOML) for a JSON format; may be repeated.
    #[arg(long, value_name = "FILE")]
    mapping: Vec<PathBuf>,
    /// Seconds between checkpoints while events come in (one is always written on shutdown).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    checkpoint_every: u64,
    /// Event files (EVTX or JSON lines; `-` for stdin) to read once at start, besides what
    /// comes over HTTP.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub const SERVE_HELP: &str = "\
API:
  POST /v1/events          NDJSON events (any format `vigil run` reads); the tenant is
                           `?tenant=NAME`, the `X-Vigil-Tenant` header, or the config's
  GET  /v1/rules           every rules file: rule, version, digest, state, counters, last error
  POST /v1/rules/reload    look at every rules directory now; answers what changed
  GET  /v1/incidents       the incidents open now
  GET  /healthz            `ok` while events are taken
  GET  /metrics            Prometheus text format

Rules directories are watched (`[server] watch_ms`). A new or changed component is compiled
away from the event path (precompiled artifacts are cached by content hash in `[server]
cache`), checked (contract version, declaration, a dry run) and swapped in between batches;
windows and open incidents carry over when the new version groups the same way. A component
that fails a check never replaces the running one.

Incidents go to `[[server.sinks]]` (kind `file`, `stdout` or `webhook`) when they open and when
they close. On SIGTERM or Ctrl-C the server stops taking events, finishes what it has, writes
`[server] state` and exits 0; the next start restores it.

Exit codes: 0 stopped on a signal, state written; 2 could not start (an unreadable config or
checkpoint, an address in use) or could not write the state.";

pub fn serve(args: ServeArgs) -> anyhow::Result<u8> {
    let config = Config::load(&args.config)?;
    let options = ServeOptions {
        config,
        listen: args.listen,
        inputs: args.files,
        mappings: read_mappings(&args.mapping)?,
        checkpoint_every: Duration::from_secs(args.checkpoint_every.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let server = Server::start(options).await?;
        eprintln!("vigil: listening on http://{}", server.addr());
        let signal = shutdown_signal().await;
        eprintln!("vigil: {signal}: stopping");
        server.stop();
        server.wait().await?;
        eprintln!("vigil: stopped");
        Ok(EXIT_OK)
    })
}

/// Waits for SIGTERM or Ctrl-C; says which came.
async fn shutdown_signal() -> &'static str {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM can be handled");
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "interrupted",
    }
}
