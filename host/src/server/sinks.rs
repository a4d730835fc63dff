//! Where a server writes incidents: JSON lines appended to a file and flushed after every
//! batch, standard output, and webhooks. A webhook gets each incident as its own `POST`, in
//! order, from a task of its own, so a slow receiver never holds up the event path.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::metrics::Metrics;
use crate::config::SinkConfig;
use crate::incident::IncidentRecord;

/// The first pause before a webhook delivery is tried again; it doubles each time.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// The longest pause between tries.
const LONGEST_RETRY: Duration = Duration::from_secs(10);
/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// Every sink of a server.
pub struct Sinks {
    files: Vec<(PathBuf, BufWriter<File>)>,
    stdout: bool,
    webhooks: Vec<mpsc::UnboundedSender<Bytes>>,
}

/// The webhook tasks, to wait for on shutdown.
pub struct Deliveries {
    tasks: Vec<JoinHandle<()>>,
}

impl Sinks {
    /// Opens every configured sink; webhook tasks start on the current runtime.
    pub fn open(
        configs: &[SinkConfig],
        metrics: &Arc<Metrics>,
    ) -> anyhow::Result<(Sinks, Deliveries)> {
        let mut sinks = Sinks {
            files: Vec::new(),
            stdout: false,
            webhooks: Vec::new(),
        };
        let mut tasks = Vec::new();
        for config in configs {
            match config {
                SinkConfig::File { path } => sinks.files.push((path.clone(), append(path)?)),
                SinkConfig::Stdout => sinks.stdout = true,
                SinkConfig::Webhook { url, retries } => {
                    let uri: hyper::Uri = url
                        .parse()
                        .with_context(|| format!("webhook `{url}`: not a URL"))?;
                    if uri.scheme_str() != Some("http") {
                        anyhow::bail!("webhook `{url}`: only `http://` URLs are supported");
                    }
                    let (sender, receiver) = mpsc::unbounded_channel();
                    let webhook = Webhook {
                        uri,
                        retries: *retries,
                        metrics: metrics.clone(),
                    };
                    tasks.push(tokio::spawn(webhook.deliver(receiver)));
                    sinks.webhooks.push(sender);
                }
            }
        }
        Ok((sinks, Deliveries { tasks }))
    }

    /// Writes one batch's incidents to every sink; files and stdout are flushed before this
    /// returns. A sink that fails is reported and counted; the others still get the batch.
    pub fn write(&mut self, records: &[IncidentRecord], metrics: &Metrics) {
        if records.is_empty() {
            return;
        }
        let mut lines = Vec::new();
        for record in records {
            serde_json::to_writer(&mut lines, record).expect("records serialize");
            lines.push(b'\n');
        }
        for (path, file) in &mut self.files {
            if let Err(error) = file.write_all(&lines).and_then(|()| file.flush()) {
                tracing::error!(sink = %path.display(), %error, "cannot write incidents");
                Metrics::add(&metrics.sink_failures, records.len() as u64);
            }
        }
        if self.stdout {
            let mut out = std::io::stdout().lock();
            if let Err(error) = out.write_all(&lines).and_then(|()| out.flush()) {
                tracing::error!(sink = "stdout", %error, "cannot write incidents");
                Metrics::add(&metrics.sink_failures, records.len() as u64);
            }
        }
        for webhook in &self.webhooks {
            for record in records {
                let body = serde_json::to_vec(record).expect("records serialize");
                // The task ends only after every sender is gone, so a send cannot fail.
                let _ = webhook.send(Bytes::from(body));
            }
        }
    }
}

impl Deliveries {
    /// Waits until every webhook delivered (or gave up on) what it was given. Call after the
    /// [`Sinks`] are dropped.
    pub async fn finish(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

fn append(path: &Path) -> anyhow::Result<BufWriter<File>> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).with_context(|| {
            format!(
                "incident sink `{}`: cannot create its folder",
                path.display()
            )
        })?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("incident sink `{}`: cannot open", path.display()))?;
    Ok(BufWriter::new(file))
}

/// One webhook: posts each incident, retrying with backoff.
// Limitation: plain `http://` only (put a TLS-terminating proxy in front), and an incident the
// receiver still refuses after every retry is logged and counted, not kept for later.
struct Webhook {
    uri: hyper::Uri,
    retries: u32,
    metrics: Arc<Metrics>,
}

impl Webhook {
    async fn deliver(self, mut receiver: mpsc::UnboundedReceiver<Bytes>) {
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        while let Some(body) = receiver.recv().await {
            self.deliver_one(&client, body).await;
        }
    }

    /// Posts one incident; tries again after a failure or a non-2xx answer, `retries` times.
    async fn deliver_one(&self, client: &Client<HttpConnector, Full<Bytes>>, body: Bytes) {
        let mut pause = FIRST_RETRY;
        for attempt in 0..=self.retries {
            let request = Request::post(self.uri.clone())
                .header("content-type", "application/json")
                .body(Full::new(body.clone()))
                .expect("a request of a checked URI builds");
            let outcome = tokio::time::timeout(DELIVERY_TIMEOUT, client.request(request)).await;
            let error = match outcome {
                Ok(Ok(response)) if response.status().is_success() => return,
                Ok(Ok(response)) => format!("answered {}", response.status()),
                Ok(Err(error)) => error.to_string(),
                Err(_) => format!("no answer within {} s", DELIVERY_TIMEOUT.as_secs()),
            };
            tracing::warn!(webhook = %self.uri, attempt, %error, "incident delivery failed");
            if attempt < self.retries {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_RETRY);
            }
        }
        tracing::error!(
            webhook = %self.uri,
            retries = self.retries,
            "incident dropped after retries"
        );
        Metrics::add(&self.metrics.sink_failures, 1);
    }
}
