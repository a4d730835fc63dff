//! `vigil serve`: the runtime as a long-running service. Events come in over HTTP and from
//! files or stdin; one event-path thread runs every tenant's rules ([`pipeline`]); incidents go
//! to the configured sinks as they open and as they close ([`sinks`]); rules directories are
//! watched and changed components swapped in between batches ([`rules`]); on shutdown the
//! state is checkpointed, and restored on the next start.

mod http;
mod metrics;
mod pipeline;
mod rules;
mod sinks;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

pub use http::TENANT_HEADER;
pub use metrics::Metrics;
pub use rules::{RuleEntry, ScanReport};

use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::event::Event;
use crate::input::{self, Line, STDIN_NAME};
use crate::normalize::{Mapping, Normalizer};
use crate::rule::ArtifactCache;
use crate::runtime::{Restored, Runtime, Settings};
use crate::sandbox::new_engine;
use http::Api;
use pipeline::{Command, EventPath};
use rules::RuleWatcher;
use sinks::Sinks;

/// How long requests under way may take to finish once shutdown begins.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// Commands that may wait for the event path before senders wait too.
const QUEUE: usize = 64;

/// What a server is started with.
pub struct ServeOptions {
    pub config: Config,
    /// Overrides `[server] listen`.
    pub listen: Option<String>,
    /// Event files (or `-` for stdin) read once at start, beside what comes over HTTP.
    pub inputs: Vec<PathBuf>,
    /// Mapping tables besides the built-in ones.
    pub mappings: Vec<Mapping>,
    /// How often the state is checkpointed while events come in (and always on shutdown).
    pub checkpoint_every: Duration,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<Notify>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Loads the rules, restores the checkpoint, binds the listener and starts serving.
    pub async fn start(options: ServeOptions) -> anyhow::Result<Server> {
        let config = Arc::new(options.config);
        let engine = new_engine()?;
        let server = &config.server;
        let cache = ArtifactCache::open(&server.cache)
            .with_context(|| format!("cache `{}`: cannot create", server.cache.display()))?;
        let metrics = Arc::new(Metrics::default());
        let new_normalizer = || Normalizer::new(options.mappings.clone(), Default::default());
        let mut normalizer = new_normalizer()?;
        let samples = read_samples(server.dry_run_events.as_deref(), &mut normalizer)?;
        let watcher = RuleWatcher::new(&config, engine, cache, samples, metrics.clone());
        let loading = config.clone();
        let (watcher, plans) = tokio::task::spawn_blocking(move || {
            let mut watcher = watcher;
            let (plans, report) = watcher.load(&loading);
            for rejected in &report.rejected {
                eprintln!("vigil: rule rejected: {}", rejected.error);
            }
            for error in &report.errors {
                eprintln!("vigil: {error}");
            }
            (watcher, plans)
        })
        .await?;
        let settings = Settings {
            lateness_ms: i64::from(server.lateness_seconds) * 1000,
            batch_size: server.batch_size,
            report_opened: true,
            tenant_clock: true,
            ..Settings::default()
        };
        let mut runtime = Runtime::with_tenants(plans, settings);
        if let Some(state) = &server.state {
            restore(&mut runtime, state)?;
        }
        let (sinks, deliveries) = Sinks::open(&server.sinks, &metrics)?;
        let (events, commands) = mpsc::channel(QUEUE);
        let path = EventPath {
            runtime,
            sinks,
            metrics: metrics.clone(),
            state: server.state.clone(),
            checkpoint_every: options.checkpoint_every,
        };
        let event_thread = std::thread::Builder::new()
            .name("vigil-events".into())
            .spawn(move || path.run(commands))
            .context("cannot start the event path")?;

        let (reloads, reload_requests) = mpsc::channel(4);
        let table = watcher.table();
        let every = Duration::from_millis(server.watch_ms);
        tokio::spawn(watcher.watch(every, events.clone(), reload_requests));

        let listen = options.listen.as_deref().unwrap_or(&server.listen);
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on `{listen}`"))?;
        let addr = listener.local_addr()?;
        let api = Api::new(
            config.clone(),
            normalizer,
            events.clone(),
            reloads,
            table,
            metrics,
        );
        let api = Arc::new(api);
        if !options.inputs.is_empty() {
            let (config, api, inputs) = (config.clone(), api.clone(), options.inputs.clone());
            let mut normalizer = new_normalizer()?;
            tokio::task::spawn_blocking(move || {
                feed_inputs(&inputs, &config, &api, &mut normalizer)
            });
        }
        let stop = Arc::new(Notify::new());
        let stopping = Stopping {
            events,
            event_thread,
            deliveries,
        };
        let task = tokio::spawn(serve(listener, api, stop.clone(), stopping));
        tracing::info!(%addr, "listening");
        Ok(Server { addr, stop, task })
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Begins shutdown: no new events are taken, requests under way finish, the state is
    /// checkpointed.
    pub fn stop(&self) {
        self.stop.notify_one();
    }

    /// Waits until the server has stopped.
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("the server task failed")?
    }
}

/// What shutdown waits for, in order.
struct Stopping {
    events: mpsc::Sender<Command>,
    event_thread: std::thread::JoinHandle<()>,
    deliveries: sinks::Deliveries,
}

async fn serve(
    listener: TcpListener,
    api: Arc<Api>,
    stop: Arc<Notify>,
    stopping: Stopping,
) -> anyhow::Result<()> {
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    continue;
                }
            },
            () = stop.notified() => break,
        };
        let api = api.clone();
        let service = service_fn(move |request| api.clone().handle(request));
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    api.stopping
        .store(true, std::sync::atomic::Ordering::Relaxed);
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("requests still under way after {} s; stopping", DRAIN_TIMEOUT.as_secs())
        }
    }
    let (reply, answer) = oneshot::channel();
    let shutdown = Command::Shutdown { reply };
    let result = match stopping.events.send(shutdown).await {
        Ok(()) => answer
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the event path failed"))),
        Err(_) => Err(anyhow::anyhow!("the event path had already stopped")),
    };
    let thread = stopping.event_thread;
    tokio::task::spawn_blocking(move || thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the event path panicked"))?;
    stopping.deliveries.finish().await;
    tracing::info!("stopped");
    result
}

/// Takes over the checkpoint at `state`, if there is one, and logs what it restored.
fn restore(runtime: &mut Runtime, state: &Path) -> anyhow::Result<()> {
    let Some(checkpoint) = Checkpoint::read(state)? else {
        return Ok(());
    };
    for restored in runtime.restore(&checkpoint) {
        match restored {
            Restored::Groups {
                tenant,
                rule,
                groups,
            } => tracing::info!(%tenant, %rule, groups, "state restored"),
            Restored::Dropped { tenant, rule, why } => {
                tracing::warn!(%tenant, %rule, %why, "state not restored")
            }
        }
    }
    Ok(())
}

/// The events of the `dry_run_events` file; a bad line there is an error.
fn read_samples(path: Option<&Path>, normalizer: &mut Normalizer) -> anyhow::Result<Vec<Event>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let mut events = Vec::new();
    let mut rejected = None;
    input::read_file(path, normalizer, |line| match line {
        Line::Event(event) => events.push(event),
        Line::Rejected(line) => rejected = rejected.take().or(Some(line)),
    })
    .with_context(|| format!("dry-run events `{}`", path.display()))?;
    match rejected {
        Some(line) => anyhow::bail!("dry-run events: line rejected: {line}"),
        None => Ok(events),
    }
}

/// Reads the command line's event files into the event path, a batch at a time, each event
/// assigned its tenant by the config. Bad lines are logged and counted.
fn feed_inputs(inputs: &[PathBuf], config: &Config, api: &Api, normalizer: &mut Normalizer) {
    let batch = config.server.batch_size;
    for given in inputs {
        let files = match input::expand(given) {
            Ok(files) => files,
            Err(error) => {
                tracing::error!(input = %given.display(), %error, "cannot list");
                continue;
            }
        };
        for file in files {
            let mut pending = Vec::new();
            let mut sink = |line: Line| match line {
                Line::Event(mut event) => {
                    config.assign(given, &mut event);
                    pending.push(event);
                    if pending.len() >= batch {
                        send(api, std::mem::take(&mut pending));
                    }
                }
                Line::Rejected(line) => {
                    Metrics::add(&api.metrics.lines_rejected, 1);
                    tracing::warn!(origin = %line.origin, reason = %line.reason, "line rejected");
                }
            };
            let result = if file.as_os_str() == STDIN_NAME {
                input::read_lines(STDIN_NAME, std::io::stdin().lock(), normalizer, &mut sink)
                    .map_err(input::ReadError::from)
            } else {
                input::read_file(&file, normalizer, &mut sink)
            };
            if let Err(error) = result {
                tracing::error!(input = %file.display(), %error, "cannot read");
            }
            send(api, pending);
        }
    }
}

/// Hands events to the event path and waits until they are evaluated.
fn send(api: &Api, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let (reply, answer) = oneshot::channel();
    if api
        .events
        .blocking_send(Command::Events { events, reply })
        .is_ok()
    {
        let _ = answer.blocking_recv();
    }
}
