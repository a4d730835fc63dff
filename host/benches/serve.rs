//! What the server costs, side by side in one run: loading a rule from the artifact cache
//! against compiling it; events per second through `POST /v1/events` on loopback; and the
//! longest stall of the event path while the PAExec rule is swapped again and again, against
//! the longest request without swaps.
//!
//! Run with `just bench` (or `cargo bench -p vigil --bench serve`).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::shared_data;
use vigil::config::Config;
use vigil::rule::{ArtifactCache, Provenance, RuleComponent};
use vigil::sandbox::new_engine;
use vigil::server::{ServeOptions, Server};

/// Lines per request.
const LINES_PER_REQUEST: usize = 1000;
/// Swaps in the stall measurement.
const SWAPS: usize = 40;

fn main() -> anyhow::Result<()> {
    println!("rule load: from the artifact cache vs compiling (median of 5)");
    for (name, path) in [
        ("paexec (Rust)", vigil_test_rules::PAEXEC),
        ("psexec_py (Python)", vigil_test_rules::PSEXEC_PY),
    ] {
        let (compiled, cached) = load_times(Path::new(path))?;
        println!(
            "  {name:<20} compile {:>9.1} ms   cache {:>7.2} ms   ratio {:>6.0}x",
            ms(compiled),
            ms(cached),
            compiled.as_secs_f64() / cached.as_secs_f64()
        );
    }

    let runtime = tokio::runtime::Runtime::new()?;
    let site = tempfile::tempdir()?;
    let server = runtime.block_on(start(site.path()))?;
    let addr = server.addr();
    let lines = std::fs::read_to_string(shared_data().join("windows/evtx_background.jsonl"))?;
    let lines: Vec<&str> = lines.lines().collect();
    let bodies: Vec<String> = lines
        .chunks(LINES_PER_REQUEST)
        .map(|chunk| chunk.iter().map(|line| format!("{line}\n")).collect())
        .collect();

    let (took, slowest) = post_all(addr, &bodies);
    println!(
        "HTTP: {} events in {} requests of {LINES_PER_REQUEST}: {:.0} events/s, slowest request \
         {:.1} ms",
        lines.len(),
        bodies.len(),
        lines.len() as f64 / took.as_secs_f64(),
        ms(slowest)
    );

    let swapper = std::thread::spawn(move || swap_repeatedly(addr, &site_rules(addr)));
    let (took_swapping, slowest_swapping) = post_all(addr, &bodies);
    let swaps = swapper.join().expect("the swapper runs")?;
    println!(
        "HTTP while swapping {swaps} times: {:.0} events/s, slowest request {:.1} ms (ratio to \
         no swaps {:.2}); longest event-path stall for a swap {:.3} ms",
        lines.len() as f64 / took_swapping.as_secs_f64(),
        ms(slowest_swapping),
        slowest_swapping.as_secs_f64() / slowest.as_secs_f64(),
        stall_ms(addr)
    );
    server.stop();
    runtime.block_on(server.wait())?;
    Ok(())
}

/// Median compile time and median load time from a warm cache.
fn load_times(path: &Path) -> anyhow::Result<(Duration, Duration)> {
    let engine = new_engine()?;
    let bytes = std::fs::read(path)?;
    let cache_dir = tempfile::tempdir()?;
    let cache = ArtifactCache::open(cache_dir.path())?;
    let time = |cached: bool| -> anyhow::Result<Duration> {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            if cached {
                let (_, provenance) =
                    RuleComponent::from_bytes_cached(&engine, path, &bytes, &cache)?;
                assert_eq!(provenance, Provenance::Cached);
            } else {
                RuleComponent::from_bytes(&engine, path, &bytes)?;
            }
            times.push(started.elapsed());
        }
        times.sort();
        Ok(times[times.len() / 2])
    };
    let compiled = time(false)?;
    RuleComponent::from_bytes_cached(&engine, path, &bytes, &cache)?;
    Ok((compiled, time(true)?))
}

/// A server in `dir` whose one tenant runs PAExec, with a file sink.
async fn start(dir: &Path) -> anyhow::Result<Server> {
    std::fs::create_dir(dir.join("rules"))?;
    std::fs::copy(vigil_test_rules::PAEXEC, dir.join("rules/paexec.wasm"))?;
    let text = r#"
        [defaults]
        rules = "rules"
        [tenants.corp]
        [server]
        listen = "127.0.0.1:0"
        cache = "cache"
        watch_ms = 3600000
        sinks = [{ kind = "file", path = "incidents.jsonl" }]
    "#;
    let config = Config::parse(&dir.join("vigil.toml"), text, dir)?;
    let options = ServeOptions {
        config,
        listen: None,
        inputs: Vec::new(),
        mappings: Vec::new(),
        checkpoint_every: Duration::from_secs(3600),
    };
    Server::start(options).await
}

/// The rules directory of the server at `addr`, as `GET /v1/rules` names it.
fn site_rules(addr: SocketAddr) -> std::path::PathBuf {
    let (_, body) = request(addr, "GET", "/v1/rules", "");
    let rules: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let path = rules[0]["path"].as_str().expect("a rule path");
    Path::new(path).to_path_buf()
}

/// Swaps the PAExec component between its two builds `SWAPS` times; the swaps done.
fn swap_repeatedly(addr: SocketAddr, rule: &Path) -> anyhow::Result<usize> {
    let versions = [vigil_test_rules::PAEXEC_NEXT, vigil_test_rules::PAEXEC];
    for swap in 0..SWAPS {
        let partial = rule.with_extension("partial");
        std::fs::copy(versions[swap % 2], &partial)?;
        std::fs::rename(&partial, rule)?;
        let (status, body) = request(addr, "POST", "/v1/rules/reload", "");
        anyhow::ensure!(
            status == 200 && body.contains("installed"),
            "reload: {body}"
        );
    }
    Ok(SWAPS)
}

/// Posts every body in turn; the total time and the slowest request.
fn post_all(addr: SocketAddr, bodies: &[String]) -> (Duration, Duration) {
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for body in bodies {
        let sent = Instant::now();
        let (status, answer) = request(addr, "POST", "/v1/events?tenant=corp", body);
        assert_eq!(status, 200, "{answer}");
        slowest = slowest.max(sent.elapsed());
    }
    (started.elapsed(), slowest)
}

fn stall_ms(addr: SocketAddr) -> f64 {
    let (_, text) = request(addr, "GET", "/metrics", "");
    let seconds: f64 = text
        .lines()
        .find_map(|line| line.strip_prefix("vigil_swap_stall_seconds_max "))
        .and_then(|value| value.parse().ok())
        .expect("the stall gauge");
    seconds * 1e3
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("the server listens");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\
         \r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a whole response");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_string())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
