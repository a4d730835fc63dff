//! `vigil serve` as users run it: the real binary on loopback, events posted over HTTP, rule
//! components swapped on disk while events stream in, SIGTERM and a restart in the middle.
//! Expected incidents are the hand-worked ones of the PAExec tests.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde_json::Value as Json;
use vigil::detector::Carried;
use vigil::incident::{IncidentRecord, Status};
use vigil::rule::RuleComponent;
use vigil::runtime::{Runtime, Settings};

use crate::paexec::assert_derived_incidents;
use crate::support::data;

/// A `vigil serve` process with its own rules directory, state and incident file.
struct Served {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

/// A server's folder: config, rules, cache, state and the incidents it wrote.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    /// A site whose one tenant runs the PAExec rule from `rules/`; its directory is looked at
    /// every `watch_ms`.
    fn new(watch_ms: u64) -> Site {
        Site::with_sink(watch_ms, "")
    }

    /// A site as [`Site::new`] makes it, with one more sink (a TOML inline table).
    fn with_sink(watch_ms: u64, sink: &str) -> Site {
        let sinks = match sink {
            "" => r#"{ kind = "file", path = "incidents.jsonl" }"#.to_string(),
            sink => format!(r#"{{ kind = "file", path = "incidents.jsonl" }}, {sink}"#),
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        let config = format!(
            r#"
[defaults]
rules = "rules"

[tenants.corp]

[server]
listen = "127.0.0.1:0"
state = "state/checkpoint.json"
cache = "cache"
watch_ms = {watch_ms}
sinks = [{sinks}]
"#
        );
        std::fs::write(dir.path().join("vigil.toml"), config).unwrap();
        let site = Site { dir };
        site.put_rule("paexec.wasm", vigil_test_rules::PAEXEC);
        site
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Puts a component in the rules directory the way a deployment should: written beside
    /// it, then renamed over the old one.
    fn put_rule(&self, name: &str, component: &str) {
        self.put_bytes(name, &std::fs::read(component).unwrap());
    }

    fn put_bytes(&self, name: &str, bytes: &[u8]) {
        let partial = self.path(&format!("{name}.partial"));
        std::fs::write(&partial, bytes).unwrap();
        std::fs::rename(&partial, self.path(&format!("rules/{name}"))).unwrap();
    }

    fn start(&self) -> Served {
        self.start_with(&[])
    }

    /// Starts `vigil serve` with `files` to read at start.
    fn start_with(&self, files: &[&std::ffi::OsStr]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
            .args(["serve", "--config"])
            .arg(self.path("vigil.toml"))
            .args(files)
            .env("VIGIL_LOG", "vigil=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vigil serve starts");
        let (sender, stderr) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let addr = loop {
            let line = stderr
                .recv_timeout(Duration::from_secs(120))
                .expect("the server says where it listens");
            if let Some(addr) = line.strip_prefix("vigil: listening on http://") {
                break addr.parse().unwrap();
            }
        };
        Served {
            child,
            addr,
            stderr,
        }
    }

    /// Every record the server wrote, in order.
    fn written(&self) -> Vec<IncidentRecord> {
        let text = std::fs::read_to_string(self.path("incidents.jsonl")).unwrap_or_default();
        text.lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

impl Served {
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        http(self.addr, method, path, body)
    }

    fn post_events(&self, lines: &[String]) -> Json {
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        let (status, answer) = self.request("POST", "/v1/events?tenant=corp", &body);
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str(&answer).unwrap()
    }

    fn get_json(&self, path: &str) -> Json {
        let (status, answer) = self.request("GET", path, "");
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str(&answer).unwrap()
    }

    fn reload(&self) -> Json {
        let (status, answer) = self.request("POST", "/v1/rules/reload", "");
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str(&answer).unwrap()
    }

    /// Sends SIGTERM and waits for a clean exit; returns what the server logged.
    fn terminate(mut self) -> Vec<String> {
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        let log: Vec<String> = self.stderr.try_iter().collect();
        assert!(exit.success(), "vigil serve exited with {exit}: {log:#?}");
        log
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\
         Content-Type: application/x-ndjson\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// The lines of a data file.
fn lines(relative: &str) -> Vec<String> {
    std::fs::read_to_string(data(relative))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The derived PAExec events among the real 7045 events, in event-time order as a live feed
/// would bring them, then a heartbeat from much later that moves the tenant's clock past
/// every window, so that every incident closes.
fn stream() -> Vec<String> {
    let mut lines = lines("windows/derived_paexec_7045.jsonl");
    lines.extend(self::lines("windows/evtx_7045.jsonl"));
    let time = |line: &String| {
        let json: Json = serde_json::from_str(line).unwrap();
        let text = json["Event"]["System"]["TimeCreated"]["#attributes"]["SystemTime"]
            .as_str()
            .expect("every 7045 event has a time")
            .to_string();
        chrono::DateTime::parse_from_rfc3339(&text).unwrap()
    };
    lines.sort_by_cached_key(time);
    let heartbeat = r#"{"eventTime": "2030-01-01T00:00:00Z", "eventType": "Heartbeat"}"#;
    lines.push(heartbeat.to_string());
    lines
}

/// Lines per request in the streaming tests.
const CHUNK: usize = 16;

/// Each incident's latest state: the last record the server wrote of it, unless it is open
/// now, in which case as `GET /v1/incidents` shows it.
fn final_incidents(written: &[IncidentRecord], open: &Json) -> Vec<IncidentRecord> {
    let mut latest: BTreeMap<String, IncidentRecord> = BTreeMap::new();
    for record in written {
        latest.insert(record.incident_id.clone(), record.clone());
    }
    let open: Vec<IncidentRecord> = serde_json::from_value(open.clone()).unwrap();
    for record in open {
        latest.insert(record.incident_id.clone(), record);
    }
    latest.into_values().collect()
}

/// Asserts that every incident was written open once, then closed at most once.
fn assert_written_once(written: &[IncidentRecord]) {
    let mut seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for record in written {
        let status = match record.status {
            Status::Open => "open",
            Status::Closed => "closed",
        };
        seen.entry(&record.incident_id).or_default().push(status);
    }
    for (id, statuses) in seen {
        assert!(
            statuses == ["open"] || statuses == ["open", "closed"],
            "incident {id} was written as {statuses:?}"
        );
    }
}

fn rule_entry(served: &Served) -> Json {
    let rules = served.get_json("/v1/rules");
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), 1, "{rules:#?}");
    rules[0].clone()
}

/// Waits until the running PAExec rule is `version`.
fn wait_for_version(served: &Served, version: &str) {
    let started = std::time::Instant::now();
    while rule_entry(served)["version"] != version {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "version {version} was never swapped in: {:#}",
            rule_entry(served)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metric(served: &Served, name: &str) -> f64 {
    let (_, text) = served.request("GET", "/metrics", "");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no metric `{name}` in {text}"))
        .parse()
        .unwrap()
}

#[test]
fn swapping_the_rule_while_events_stream_in_changes_no_incident() {
    let site = Site::new(50);
    let served = site.start();
    let stream = stream();
    let chunks: Vec<&[String]> = stream.chunks(CHUNK).collect();
    let posted = stream.len();
    let versions = [
        (vigil_test_rules::PAEXEC_NEXT, "1.0.1"),
        (vigil_test_rules::PAEXEC, "1.0.0"),
    ];
    let swaps = AtomicUsize::new(0);
    let posting = AtomicBool::new(true);
    let addr = served.addr;
    std::thread::scope(|scope| {
        // Events stream in on one thread; chunk `i` goes once `i / 2` swaps are done, so swaps
        // and requests interleave all the way through.
        scope.spawn(|| {
            for (number, chunk) in chunks.iter().enumerate() {
                while swaps.load(Ordering::SeqCst) < number / 2 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let body: String = chunk.iter().map(|line| format!("{line}\n")).collect();
                let (status, answer) = http(addr, "POST", "/v1/events?tenant=corp", &body);
                assert_eq!(status, 200, "{answer}");
                let answer: Json = serde_json::from_str(&answer).unwrap();
                assert_eq!(answer["accepted"], chunk.len());
            }
            posting.store(false, Ordering::SeqCst);
        });
        while posting.load(Ordering::SeqCst) {
            let number = swaps.load(Ordering::SeqCst);
            let (component, version) = versions[number % 2];
            site.put_rule("paexec.wasm", component);
            // Half the swaps are asked for, half left for the watcher to notice.
            if number.is_multiple_of(2) {
                served.reload();
            }
            wait_for_version(&served, version);
            swaps.fetch_add(1, Ordering::SeqCst);
        }
    });
    let swaps = swaps.into_inner();
    assert!(swaps >= chunks.len() / 2, "{swaps} swaps");

    let entry = rule_entry(&served);
    assert_eq!(entry["state"], "running");
    assert_eq!(entry["swaps"], swaps, "{entry:#}");
    // Every event but the heartbeat is a 7045 event, routed to the rule.
    assert_eq!(entry["counters"]["corp"]["events"], posted - 1, "{entry:#}");
    assert_eq!(entry["counters"]["corp"]["matched"], 7, "{entry:#}");
    assert_eq!(
        metric(&served, "vigil_events_received_total"),
        posted as f64
    );
    assert_eq!(metric(&served, "vigil_swaps_total"), swaps as f64);

    let open = served.get_json("/v1/incidents");
    served.terminate();
    let written = site.written();
    assert_written_once(&written);
    assert_derived_incidents(&final_incidents(&written, &open));
}

#[test]
fn a_broken_new_version_is_refused_and_the_running_one_goes_on() {
    // Only reloads look at the directory, so each one sees the change.
    let site = Site::new(3_600_000);
    let served = site.start();
    let stream = stream();
    let chunks: Vec<&[String]> = stream.chunks(CHUNK).collect();
    served.post_events(chunks[0]);
    let running = rule_entry(&served)["digest"].clone();

    let broken: [(&str, Vec<u8>, &str); 3] = [
        ("random bytes", vec![0x5a; 4096], "not a WebAssembly file"),
        (
            "a rule that never returns",
            std::fs::read(vigil_test_rules::HOSTILE_LOOP).unwrap(),
            "dry run failed: `match-batch` ran out of CPU time",
        ),
        (
            "a rule that imports the file system",
            std::fs::read(vigil_test_rules::HOSTILE_FS).unwrap(),
            "wasi:filesystem",
        ),
    ];
    for (what, bytes, cause) in &broken {
        site.put_bytes("paexec.wasm", bytes);
        let report = served.reload();
        let rejected = report["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 1, "{what}: {report:#}");
        let error = rejected[0]["error"].as_str().unwrap();
        assert!(error.contains(cause), "{what}: {error}");
        let entry = rule_entry(&served);
        assert_eq!(entry["state"], "running", "{what}: {entry:#}");
        assert_eq!(
            entry["digest"], running,
            "{what}: the old version still runs"
        );
        assert!(entry["last_error"].as_str().unwrap().contains(cause));
    }
    for chunk in &chunks[1..] {
        served.post_events(chunk);
    }
    assert_eq!(rule_entry(&served)["counters"]["corp"]["matched"], 7);
    let open = served.get_json("/v1/incidents");
    served.terminate();
    assert_derived_incidents(&final_incidents(&site.written(), &open));
}

#[test]
fn a_restart_mid_stream_loses_no_window_and_repeats_no_incident() {
    let site = Site::new(1000);
    let stream = stream();
    // The first two derived events (10:00:00 and 10:01:00 on jump01) make one incident; they
    // are posted on either side of the restart.
    let first_derived = stream
        .iter()
        .position(|line| line.contains("PAExec-4312-ADMINWS01") && line.contains("10:00:00"))
        .unwrap();
    let (before, after) = stream.split_at(first_derived + 1);

    let first = site.start();
    for chunk in before.chunks(CHUNK) {
        first.post_events(chunk);
    }
    let first_rules = rule_entry(&first);
    assert_eq!(first_rules["loaded_from"], "compiled");
    first.terminate();
    assert!(site.path("state/checkpoint.json").exists());

    let second = site.start();
    assert_eq!(
        rule_entry(&second)["loaded_from"],
        "cache",
        "a restart compiles nothing"
    );
    for chunk in after.chunks(CHUNK) {
        second.post_events(chunk);
    }
    let open = second.get_json("/v1/incidents");
    second.terminate();

    let written = site.written();
    assert_written_once(&written);
    assert_derived_incidents(&final_incidents(&written, &open));
}

#[test]
fn events_of_unknown_tenants_and_bad_lines_are_answered_not_lost() {
    let site = Site::new(1000);
    let served = site.start();
    let (status, answer) = served.request("POST", "/v1/events?tenant=nobody", "{}\n");
    assert_eq!(status, 404);
    assert!(answer.contains("unknown tenant `nobody`"), "{answer}");

    let derived = lines("windows/derived_paexec_7045.jsonl");
    // 10:00:00 and 10:00:30, a bad line, then 10:10:00: the tenant's clock passes the first two
    // by more than the lateness, so their incidents open.
    let body = format!("{}\nnot json\n{}\n{}\n", derived[0], derived[3], derived[4]);
    let (status, answer) = served.request("POST", "/v1/events?tenant=corp", &body);
    assert_eq!(status, 200, "{answer}");
    let answer: Json = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["accepted"], 3);
    assert_eq!(answer["matched"], 3);
    assert_eq!(answer["rejected"][0]["line"], 2);
    assert!(
        answer["rejected"][0]["error"]
            .as_str()
            .unwrap()
            .contains("invalid JSON")
    );
    assert_eq!(served.request("GET", "/healthz", "").0, 200);
    assert_eq!(metric(&served, "vigil_lines_rejected_total"), 1.0);
    served.terminate();
    let written = site.written();
    let opened: Vec<&IncidentRecord> = written
        .iter()
        .filter(|record| record.status == Status::Open)
        .collect();
    assert_eq!(
        opened.len(),
        2,
        "two incidents written as they opened: {written:#?}"
    );
    assert_eq!(opened[0].first_seen, "2021-04-21T10:00:00Z");
    assert_eq!(opened[1].first_seen, "2021-04-21T10:00:30Z");
    // The tenant's clock less the lateness, 10:09:00, is past both incidents' last event plus
    // the 300 s window (10:05:00 and 10:05:30): both are final. The 10:10:00 match still waits.
    let closed: Vec<&str> = written
        .iter()
        .filter(|record| record.status == Status::Closed)
        .map(|record| record.first_seen.as_str())
        .collect();
    assert_eq!(closed, ["2021-04-21T10:00:00Z", "2021-04-21T10:00:30Z"]);
}

/// A webhook receiver on loopback: answers the first request `503` and every later one `200`;
/// sends the body of each request it answered `200` on.
fn webhook_receiver() -> (
    SocketAddr,
    mpsc::Receiver<Json>,
    std::sync::Arc<AtomicUsize>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (sender, received) = mpsc::channel();
    let requests = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let (sender, counted) = (sender.clone(), counted.clone());
            std::thread::spawn(move || answer_requests(stream, &sender, &counted));
        }
    });
    (addr, received, requests)
}

/// Answers every request of one kept-alive connection.
fn answer_requests(stream: TcpStream, sender: &mpsc::Sender<Json>, requests: &AtomicUsize) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let status = match requests.fetch_add(1, Ordering::SeqCst) {
            0 => "503 Service Unavailable",
            _ => {
                let _ = sender.send(serde_json::from_slice(&body).unwrap());
                "200 OK"
            }
        };
        write!(writer, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
    }
}

#[test]
fn a_webhook_gets_every_incident_as_it_opens_and_closes_retried_until_it_answers() {
    let (hook, received, requests) = webhook_receiver();
    let sink = format!(r#"{{ kind = "webhook", url = "http://{hook}/incidents", retries = 3 }}"#);
    let site = Site::with_sink(1000, &sink);
    let served = site.start();
    let derived = lines("windows/derived_paexec_7045.jsonl");
    // 10:00:00 and 10:00:30, then 10:10:00, which makes both incidents open and then final.
    served.post_events(&[derived[0].clone(), derived[3].clone(), derived[4].clone()]);
    served.terminate();

    let delivered: Vec<(String, String)> = received
        .try_iter()
        .map(|record| {
            let first_seen = record["first_seen"].as_str().unwrap().to_string();
            (first_seen, record["status"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [
        ("2021-04-21T10:00:00Z", "open"),
        ("2021-04-21T10:00:30Z", "open"),
        ("2021-04-21T10:00:00Z", "closed"),
        ("2021-04-21T10:00:30Z", "closed"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(time, status)| (time.to_string(), status.to_string()))
        .collect();
    assert_eq!(delivered, expected, "every incident, in order, once");
    assert_eq!(
        requests.load(Ordering::SeqCst),
        5,
        "the refused first delivery was tried again"
    );
}

#[test]
fn a_swap_to_a_version_that_groups_differently_closes_the_old_incidents() {
    let engine = crate::support::engine();
    let old = crate::support::paexec();
    let mut longer = RuleComponent::load(engine, Path::new(vigil_test_rules::PAEXEC_NEXT)).unwrap();
    longer.spec.info.window_seconds = 600;
    longer.spec.window_ms = 600_000;
    let mut runtime = Runtime::new(vec![old], Settings::default());
    let events = crate::support::read_events(&data("windows/derived_paexec_7045.jsonl"));
    // 10:00:00 and 10:01:00 on jump01, and fs02's 10:00:30.
    for event in &events[..4] {
        runtime.push(event.clone());
    }
    let carried = runtime.install("default", Arc::new(longer));
    let Some(Carried::Reset(why)) = carried else {
        panic!("the window changed, so the state cannot carry over: {carried:?}");
    };
    assert!(
        why.contains("window=300s") && why.contains("window=600s"),
        "{why}"
    );
    let closed: Vec<(String, u64)> = runtime
        .take_incidents()
        .iter()
        .map(|incident| (incident.record().first_seen, incident.count))
        .collect();
    assert_eq!(
        closed,
        [
            ("2021-04-21T10:00:00Z".to_string(), 2),
            ("2021-04-21T10:00:30Z".to_string(), 1),
            ("2021-04-21T10:06:40Z".to_string(), 1),
        ],
        "the old version's incidents are closed with what they had"
    );
    assert!(runtime.open_incidents().is_empty());
}

#[test]
fn event_files_named_at_start_are_read_beside_http() {
    let site = Site::new(1000);
    let derived = data("windows/derived_paexec_7045.jsonl");
    let config = std::fs::read_to_string(site.path("vigil.toml")).unwrap();
    let config = config.replace(
        "[tenants.corp]",
        &format!(
            "[tenants.corp]\nfiles = [{:?}]",
            derived.display().to_string()
        ),
    );
    std::fs::write(site.path("vigil.toml"), config).unwrap();
    let served = site.start_with(&[derived.as_os_str()]);
    let started = std::time::Instant::now();
    while metric(&served, "vigil_events_received_total") < 11.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the file was never read"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let entry = rule_entry(&served);
    assert_eq!(entry["counters"]["corp"]["events"], 11, "{entry:#}");
    assert_eq!(entry["counters"]["corp"]["matched"], 7, "{entry:#}");
    served.terminate();
}
