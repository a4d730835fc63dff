//! Command-line parsing and the subcommands.

mod fixture;
mod progress;
mod rule_build;
mod rule_info;
mod rule_new;
mod rule_test;
mod run;
mod serve;
mod stats;
mod tenants;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Everything ran and nothing was rejected.
pub const EXIT_OK: u8 = 0;
/// The run finished, but some input, rule or file was rejected; stderr says which.
pub const EXIT_PARTIAL: u8 = 1;
/// Nothing useful could be done: bad usage, or an unusable argument.
pub const EXIT_FAILURE: u8 = 2;

const EXIT_CODES: &str = "\
Rules run sandboxed: no files, network, environment, clocks or randomness; CPU time and memory
are limited per call and instance, and a failing rule never stops the others (`vigil run --help`
lists the limits and their defaults).

Exit codes:
  0  everything ran; no line, file or rule was rejected
  1  the run finished, but some lines, files or rules were rejected (each named on stderr)
  2  bad usage, or nothing could run

Logging: VIGIL_LOG sets the filter (for example `VIGIL_LOG=vigil=debug`).";

/// Run SIEM detection rules as sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run rules over event files (or stdin) and print incidents as JSON lines.
    #[command(after_help = tenants::run_help())]
    Run(run::RunArgs),
    /// Run rules as a service: events over HTTP, incidents to sinks, rules swapped while
    /// events flow.
    #[command(after_help = serve::SERVE_HELP)]
    Serve(serve::ServeArgs),
    /// Inspect, scaffold, build and test rules.
    #[command(subcommand)]
    Rule(RuleCommand),
}

#[derive(Debug, Subcommand)]
enum RuleCommand {
    /// Show what a rule component declares.
    Info(InfoArgs),
    /// Scaffold a rule crate that builds, tests and loads as it stands.
    New(rule_new::NewArgs),
    /// Build a rule crate to a component and check that it loads; prints its path.
    Build(BuildArgs),
    /// Run fixtures (events and the incidents they must give) through a rule.
    ///
    /// Exit codes: 0 every fixture passed, 1 a fixture failed, 2 usage, build or fixture error.
    Test(rule_test::TestArgs),
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// The rule crate's directory.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// The rule component (`.wasm`).
    file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let code = match cli.command {
        Command::Run(args) => run::run(args)?,
        Command::Serve(args) => serve::serve(args)?,
        Command::Rule(RuleCommand::Info(args)) => rule_info::info(&args.file, args.json)?,
        Command::Rule(RuleCommand::New(args)) => rule_new::new(args)?,
        Command::Rule(RuleCommand::Build(args)) => rule_build::build_command(&args.dir)?,
        Command::Rule(RuleCommand::Test(args)) => rule_test::test(args)?,
    };
    Ok(ExitCode::from(code))
}

/// Logs go to stderr, filtered by `VIGIL_LOG` (warnings by default).
pub fn init_logging() {
    let filter = EnvFilter::try_from_env("VIGIL_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
