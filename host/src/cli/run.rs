//! `vigil run`: rules over event files, incidents to stdout, a summary to stderr.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use vigil::config::Config;
use vigil::input::{self, Line, STDIN_NAME};
use vigil::normalize::{Mapping, Normalizer, Settings as NormalizeSettings};
use vigil::notice::Notice;
use vigil::rule::{RuleSet, load_dir};
use vigil::runtime::{Runtime, Settings};
use vigil::sandbox::new_engine;

use super::progress::Progress;
use super::tenants::{self, PoisonSink};
use super::{EXIT_OK, EXIT_PARTIAL, stats};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Directory of rule components (`*.wasm`).
    #[arg(long, value_name = "DIR", required_unless_present = "config")]
    rules: Option<PathBuf>,
    /// Tenants file (TOML): each tenant's rules, where its events come from, its limits. Without
    /// it, every event's tenant runs every rule of `--rules` under the default limits.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rules", "tenant", "tenant_field"])]
    config: Option<PathBuf>,
    /// Write poison events (the event a rule failed on, with its attributes) here as JSON
    /// lines, instead of naming each on stderr.
    #[arg(long, value_name = "FILE")]
    poison: Option<PathBuf>,
    /// Event files: binary EVTX (told by its first bytes), or JSON lines in any format a mapping
    /// detects (FortiSIEM attributes, Windows event JSON, Winlogbeat/ECS, NXLog), per line. A
    /// directory means its `.evtx`, `.json` and `.jsonl` files, sorted. Standard input when none
    /// is given, or for `-`.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// How far, in seconds of event time, a match may arrive behind the newest match of its
    /// group and still count.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    lateness: u32,
    /// Events per call into a rule.
    #[arg(long, value_name = "N", default_value_t = 256)]
    batch_size: usize,
    /// Write late matches here as JSON lines, instead of naming each on stderr.
    #[arg(long, value_name = "FILE")]
    late: Option<PathBuf>,
    /// Tenant of events that name none.
    #[arg(long, value_name = "NAME")]
    tenant: Option<String>,
    /// Take each event's tenant from this attribute.
    #[arg(long, value_name = "ATTRIBUTE")]
    tenant_field: Option<String>,
    /// Take each event's time from this attribute instead of the format's time field.
    #[arg(long, value_name = "ATTRIBUTE")]
    time_field: Option<String>,
    /// An extra mapping table (TOML) for a JSON format; may be repeated. See `host/mappings/`.
    #[arg(long, value_name = "FILE")]
    mapping: Vec<PathBuf>,
    /// At the end, print what each rule of each tenant did, as a table on stderr.
    #[arg(long)]
    stats: bool,
}

/// What the run counted and rejected, for the summary and the exit code.
#[derive(Default)]
struct Tally {
    lines_rejected: u64,
    files_failed: u64,
    rules_rejected: u64,
    rule_failures: u64,
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let engine = new_engine()?;
    let mut tally = Tally::default();
    let config = args.config.as_deref().map(Config::load).transpose()?;
    let mut normalizer = Normalizer::new(read_mappings(&args.mapping)?, normalize_settings(&args))?;
    let settings = Settings {
        lateness_ms: i64::from(args.lateness) * 1000,
        batch_size: args.batch_size,
        ..Settings::default()
    };
    let mut runtime = match (&config, &args.rules) {
        (Some(config), _) => {
            let plans = tenants::plan(&engine, config, &mut tally.rules_rejected);
            Runtime::with_tenants(plans, settings)
        }
        (None, Some(rules)) => Runtime::new(load_rules(&engine, rules, &mut tally).rules, settings),
        (None, None) => anyhow::bail!("give `--rules DIR` or `--config FILE`"),
    };
    let mut late_sink = LateSink::open(args.late.as_deref())?;
    late_sink.poison = PoisonSink::open(args.poison.as_deref())?;
    let mut out = BufWriter::new(io::stdout().lock());

    let config_files = config.as_ref().map(Config::files).unwrap_or_default();
    let files = match (args.files.is_empty(), config_files.is_empty()) {
        (false, _) => expand_files(&args.files, &mut tally),
        (true, false) => expand_files(&config_files, &mut tally),
        (true, true) => vec![(PathBuf::from(STDIN_NAME), PathBuf::from(STDIN_NAME))],
    };
    let mut progress = Progress::new(files.len());
    let mut closed_pipe = false;
    for file in &files {
        let input = Input {
            given: &file.0,
            file: &file.1,
            config: config.as_ref(),
        };
        read_file(
            input,
            &mut normalizer,
            &mut runtime,
            &mut tally,
            &mut progress,
        );
        progress.file_done();
        progress.clear();
        if !emit(&mut runtime, &mut out, &mut late_sink, &mut tally)? {
            closed_pipe = true;
            break;
        }
    }
    if !closed_pipe {
        runtime.finish();
        emit(&mut runtime, &mut out, &mut late_sink, &mut tally)?;
    }
    drop(progress);
    summarize(&runtime, &tally);
    if args.stats {
        eprint!("{}", stats::table(&runtime.detector_stats()));
    }
    let clean = tally.lines_rejected + tally.files_failed + tally.rules_rejected == 0;
    Ok(if clean { EXIT_OK } else { EXIT_PARTIAL })
}

fn load_rules(engine: &wasmtime::Engine, dir: &Path, tally: &mut Tally) -> RuleSet {
    match load_dir(engine, dir) {
        Ok(set) => {
            for error in &set.errors {
                eprintln!("vigil: rule rejected: {error}");
            }
            tally.rules_rejected += set.errors.len() as u64;
            set
        }
        Err(error) => {
            eprintln!("vigil: rules directory `{}`: {error}", dir.display());
            tally.rules_rejected += 1;
            RuleSet::default()
        }
    }
}

pub fn read_mappings(paths: &[PathBuf]) -> anyhow::Result<Vec<Mapping>> {
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read mapping `{}`", path.display()))?;
            Ok(Mapping::parse(&path.display().to_string(), &text)?)
        })
        .collect()
}

fn normalize_settings(args: &RunArgs) -> NormalizeSettings {
    NormalizeSettings {
        time_field: args.time_field.clone(),
        tenant_field: args.tenant_field.clone(),
        default_tenant: args.tenant.clone(),
    }
}

/// The files the arguments stand for, each with the path it was given as (a directory's files
/// belong to the directory's tenant); an unreadable directory is reported and counted.
fn expand_files(paths: &[PathBuf], tally: &mut Tally) -> Vec<(PathBuf, PathBuf)> {
    let mut files = Vec::new();
    for path in paths {
        match input::expand(path) {
            Ok(found) => files.extend(found.into_iter().map(|file| (path.clone(), file))),
            Err(error) => {
                tally.files_failed += 1;
                eprintln!("vigil: `{}`: cannot list: {error}", path.display());
            }
        }
    }
    files
}

/// One input file, the path it was given as, and the tenants file that assigns its tenant.
struct Input<'a> {
    given: &'a Path,
    file: &'a Path,
    config: Option<&'a Config>,
}

/// Feeds one file's events to the runtime, each assigned its tenant when a config is given;
/// reports bad lines and unreadable files.
fn read_file(
    input: Input,
    normalizer: &mut Normalizer,
    runtime: &mut Runtime,
    tally: &mut Tally,
    progress: &mut Progress,
) {
    let file = input.file;
    let name = file.display().to_string();
    let mut sink = |line: Line| match line {
        Line::Event(mut event) => {
            if let Some(config) = input.config {
                config.assign(input.given, &mut event);
            }
            progress.event();
            runtime.push(event);
        }
        Line::Rejected(rejected) => {
            tally.lines_rejected += 1;
            progress.clear();
            eprintln!("vigil: line rejected: {rejected}");
        }
    };
    let result = if name == STDIN_NAME {
        input::read_lines(STDIN_NAME, io::stdin().lock(), normalizer, &mut sink)
            .map_err(input::ReadError::from)
    } else {
        input::read_file(file, normalizer, &mut sink)
    };
    if let Err(error) = result {
        tally.files_failed += 1;
        progress.clear();
        eprintln!("vigil: `{name}`: {error}");
    }
}

/// Writes the incidents closed so far and reports notices. Returns false when stdout closed.
fn emit(
    runtime: &mut Runtime,
    out: &mut impl Write,
    late_sink: &mut LateSink,
    tally: &mut Tally,
) -> anyhow::Result<bool> {
    for notice in runtime.take_notices() {
        if let Notice::RuleFailed { .. } | Notice::Poison(_) | Notice::Abandoned { .. } = notice {
            tally.rule_failures += 1;
        }
        late_sink.report(&notice)?;
    }
    let mut write_all = || -> io::Result<()> {
        for incident in runtime.take_incidents() {
            serde_json::to_writer(&mut *out, &incident.record())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    };
    match write_all() {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(error) => Err(error).context("cannot write incidents to stdout"),
    }
}

/// Where notices go: stderr, except late events when `--late FILE` is given and poison
/// events when `--poison FILE` is.
struct LateSink {
    file: Option<BufWriter<File>>,
    poison: PoisonSink,
}

impl LateSink {
    fn open(path: Option<&Path>) -> anyhow::Result<Self> {
        let file = tenants::create_output(path)?;
        let poison = PoisonSink::open(None)?;
        Ok(LateSink { file, poison })
    }

    fn report(&mut self, notice: &Notice) -> anyhow::Result<()> {
        let Some(notice) = self.poison.report(notice.clone())? else {
            return Ok(());
        };
        match (&notice, self.file.as_mut()) {
            (
                Notice::LateMatch {
                    tenant,
                    rule,
                    origin,
                    time_ms,
                },
                Some(file),
            ) => {
                let mut record = serde_json::json!({
                    "source": origin.source.as_ref(),
                    "tenant": tenant,
                    "rule": rule,
                    "event_time": vigil::normalize::format_time(*time_ms),
                });
                record[origin.kind.name()] = origin.position.into();
                writeln!(file, "{record}").context("cannot write late events")?;
                file.flush().context("cannot write late events")?;
            }
            _ => eprintln!("vigil: {notice}"),
        }
        Ok(())
    }
}

fn summarize(runtime: &Runtime, tally: &Tally) {
    let totals = runtime.totals();
    eprintln!(
        "vigil: {} events read, {} lines rejected, {} events matched, {} incidents, \
         {} late events; {} rules loaded, {} rejected; {} rule failures, \
         {} events skipped by failing rules, {} events of no tenant",
        totals.events,
        tally.lines_rejected,
        totals.matched,
        totals.incidents,
        totals.late,
        runtime.rules().len(),
        tally.rules_rejected,
        tally.rule_failures,
        totals.skipped,
        totals.no_tenant,
    );
}
