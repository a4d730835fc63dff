//! The HTTP API: events in, rules and their state, incidents open now, health and metrics.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/events` | NDJSON events; tenant from `?tenant=`, `X-Vigil-Tenant` or the config |
//! | `GET /v1/rules` | every rules file: rule, version, digest, state, counters, last error |
//! | `POST /v1/rules/reload` | look at every rules directory now; answers what changed |
//! | `GET /v1/incidents` | the incidents open now, as they stand |
//! | `GET /healthz` | `ok` while the server takes events |
//! | `GET /metrics` | Prometheus text format |

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::metrics::Metrics;
use super::pipeline::{Command, Evaluated, Snapshot};
use super::rules::{Reload, RuleEntry, RuleTable};
use crate::config::Config;
use crate::detector::DetectorStats;
use crate::event::Event;
use crate::input::{self, Line};
use crate::normalize::Normalizer;

/// The header that names the tenant of a request's events.
pub const TENANT_HEADER: &str = "x-vigil-tenant";

/// What every request handler shares.
pub struct Api {
    pub config: Arc<Config>,
    pub normalizer: Mutex<Normalizer>,
    pub events: mpsc::Sender<Command>,
    pub reloads: mpsc::Sender<Reload>,
    pub table: RuleTable,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// Set once shutdown begins: no more events are taken.
    pub stopping: AtomicBool,
    requests: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

impl Api {
    #[allow(clippy::too_many_arguments)] // Each part is one the server builds separately.
    pub fn new(
        config: Arc<Config>,
        normalizer: Normalizer,
        events: mpsc::Sender<Command>,
        reloads: mpsc::Sender<Reload>,
        table: RuleTable,
        metrics: Arc<Metrics>,
    ) -> Self {
        let max_body_bytes = config.server.max_body_bytes;
        Api {
            config,
            normalizer: Mutex::new(normalizer),
            events,
            reloads,
            table,
            metrics,
            max_body_bytes,
            stopping: AtomicBool::new(false),
            requests: AtomicU64::new(0),
        }
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Result<Reply, Infallible> {
        let path = request.uri().path().to_string();
        let reply = match (request.method(), path.as_str()) {
            (&Method::POST, "/v1/events") => self.post_events(request).await,
            (&Method::GET, "/v1/rules") => self.get_rules().await,
            (&Method::POST, "/v1/rules/reload") => self.reload().await,
            (&Method::GET, "/v1/incidents") => self.get_incidents().await,
            (&Method::GET, "/healthz") => self.health(),
            (&Method::GET, "/metrics") => self.get_metrics().await,
            (_, "/v1/events" | "/v1/rules" | "/v1/rules/reload" | "/v1/incidents") => {
                error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            }
            _ => error(StatusCode::NOT_FOUND, &format!("no route `{path}`")),
        };
        Ok(reply)
    }

    async fn post_events(&self, request: Request<Incoming>) -> Reply {
        if self.stopping.load(Ordering::Relaxed) {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting down; no events are taken",
            );
        }
        let tenant = match self.named_tenant(&request) {
            Ok(tenant) => tenant,
            Err(unknown) => {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("unknown tenant `{unknown}`"),
                );
            }
        };
        let body = match Limited::new(request.into_body(), self.max_body_bytes)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(cause) if cause.downcast_ref::<LengthLimitError>().is_some() => {
                let message = format!("body larger than {} bytes", self.max_body_bytes);
                return error(StatusCode::PAYLOAD_TOO_LARGE, &message);
            }
            Err(cause) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("cannot read body: {cause}"),
                );
            }
        };
        let number = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let (events, rejected) = self.parse(&body, number, tenant.as_deref());
        Metrics::add(&self.metrics.lines_rejected, rejected.len() as u64);
        let accepted = events.len() as u64;
        let evaluated = match self.evaluate(events).await {
            Some(evaluated) => evaluated,
            None => {
                return error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the event path has stopped",
                );
            }
        };
        let answer = EventsAnswer {
            request: number,
            accepted,
            matched: evaluated.matched,
            rejected,
        };
        json(StatusCode::OK, &answer)
    }

    /// The tenant the request names, if it names one; an unknown one is the error.
    fn named_tenant(&self, request: &Request<Incoming>) -> Result<Option<String>, String> {
        let from_query = request.uri().query().and_then(|query| {
            query
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| *key == "tenant")
                .map(|(_, value)| value.to_string())
        });
        let from_header = request
            .headers()
            .get(TENANT_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let Some(tenant) = from_query.or(from_header) else {
            return Ok(None);
        };
        match self.config.tenant(&tenant) {
            Some(_) => Ok(Some(tenant)),
            None => Err(tenant),
        }
    }

    /// The events of a body, each with its tenant, and the lines that were not events.
    fn parse(
        &self,
        body: &[u8],
        number: u64,
        tenant: Option<&str>,
    ) -> (Vec<Event>, Vec<RejectedLine>) {
        let source = format!("request {number}");
        let mut events = Vec::new();
        let mut rejected = Vec::new();
        let mut normalizer = self.normalizer.lock().unwrap_or_else(|p| p.into_inner());
        let result = input::read_lines(&source, body, &mut normalizer, |line| match line {
            Line::Event(mut event) => {
                match tenant {
                    Some(tenant) => event.tenant = tenant.into(),
                    None => self.config.assign(Path::new(&source), &mut event),
                }
                events.push(event);
            }
            Line::Rejected(line) => {
                tracing::warn!(origin = %line.origin, reason = %line.reason, "line rejected");
                rejected.push(RejectedLine {
                    line: line.origin.position,
                    error: line.reason,
                });
            }
        });
        result.expect("reading from memory cannot fail");
        (events, rejected)
    }

    async fn evaluate(&self, events: Vec<Event>) -> Option<Evaluated> {
        let (reply, answer) = oneshot::channel();
        self.events
            .send(Command::Events { events, reply })
            .await
            .ok()?;
        answer.await.ok()
    }

    async fn snapshot(&self) -> Option<Snapshot> {
        let (reply, answer) = oneshot::channel();
        self.events.send(Command::Snapshot { reply }).await.ok()?;
        answer.await.ok()
    }

    async fn get_rules(&self) -> Reply {
        let Some(snapshot) = self.snapshot().await else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event path has stopped",
            );
        };
        let table: Vec<RuleEntry> = {
            let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
            table.values().cloned().collect()
        };
        let rules: Vec<RuleView> = table
            .into_iter()
            .map(|entry| {
                let counters = snapshot
                    .rules
                    .iter()
                    .filter(|(tenant, rule, _)| {
                        entry.rule.as_deref() == Some(rule.as_str())
                            && entry.tenants.contains(tenant)
                    })
                    .map(|(tenant, _, stats)| (tenant.clone(), Counters::from(stats)))
                    .collect();
                RuleView { entry, counters }
            })
            .collect();
        json(StatusCode::OK, &rules)
    }

    async fn reload(&self) -> Reply {
        let (reply, answer) = oneshot::channel();
        if self.reloads.send(reply).await.is_err() {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the rule watcher has stopped",
            );
        }
        match answer.await {
            Ok(report) => json(StatusCode::OK, &report),
            Err(_) => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the rule watcher has stopped",
            ),
        }
    }

    async fn get_incidents(&self) -> Reply {
        match self.snapshot().await {
            Some(snapshot) => json(StatusCode::OK, &snapshot.open),
            None => error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event path has stopped",
            ),
        }
    }

    fn health(&self) -> Reply {
        if self.stopping.load(Ordering::Relaxed) {
            return text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n".into());
        }
        text(StatusCode::OK, "ok\n".into())
    }

    async fn get_metrics(&self) -> Reply {
        let rules = match self.snapshot().await {
            Some(snapshot) => snapshot.rules,
            None => Vec::new(),
        };
        text(StatusCode::OK, self.metrics.render(&rules))
    }
}

#[derive(Serialize)]
struct EventsAnswer {
    /// The request's number, which names it in the server's log (`request N:LINE`).
    request: u64,
    accepted: u64,
    matched: u64,
    rejected: Vec<RejectedLine>,
}

#[derive(Serialize)]
struct RejectedLine {
    line: u64,
    error: String,
}

#[derive(Serialize)]
struct RuleView {
    #[serde(flatten)]
    entry: RuleEntry,
    /// Per tenant.
    counters: std::collections::BTreeMap<String, Counters>,
}

#[derive(Serialize)]
struct Counters {
    events: u64,
    matched: u64,
    late: u64,
    incidents: u64,
    failures: u64,
    skipped: u64,
    quarantines: u32,
    call_ms: f64,
}

impl From<&DetectorStats> for Counters {
    fn from(stats: &DetectorStats) -> Self {
        Counters {
            events: stats.events_seen,
            matched: stats.matched,
            late: stats.late,
            incidents: stats.incidents,
            failures: stats.failures,
            skipped: stats.skipped,
            quarantines: stats.quarantines,
            call_ms: stats.call_time.as_secs_f64() * 1e3,
        }
    }
}

fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    let mut body = serde_json::to_vec(value).expect("answers serialize");
    body.push(b'\n');
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a response of known parts builds")
}

fn text(status: StatusCode, body: String) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; version=0.0.4")
        .body(Full::new(Bytes::from(body)))
        .expect("a response of known parts builds")
}

fn error(status: StatusCode, message: &str) -> Reply {
    json(status, &serde_json::json!({ "error": message }))
}
