//! `vigil rule test`: fixtures through the real runtime, a diff for each that fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;
use vigil::incident::IncidentRecord;
use vigil::rule::RuleComponent;
use vigil::runtime::{Runtime, Settings};
use vigil::sandbox::new_engine;

use super::fixture::{Fixture, compare};
use super::{EXIT_FAILURE, EXIT_OK, EXIT_PARTIAL, rule_build};

#[derive(Debug, Args)]
pub struct TestArgs {
    /// A rule crate's directory (built first, as `vigil rule build` does) or a component.
    rule: PathBuf,
    /// Fixture files, or directories of `*.toml` fixtures. By default `fixtures/` in the crate,
    /// or beside the component.
    #[arg(value_name = "FIXTURES")]
    fixtures: Vec<PathBuf>,
}

pub fn test(args: TestArgs) -> anyhow::Result<u8> {
    let component = if args.rule.is_dir() {
        rule_build::build(&args.rule)?
    } else {
        args.rule.clone()
    };
    let engine = new_engine()?;
    let rule = Arc::new(RuleComponent::load(&engine, &component)?);
    let fixtures = fixture_files(&args)?;

    let (mut passed, mut failed, mut broken) = (0, 0, 0);
    for path in &fixtures {
        let fixture = match Fixture::load(path) {
            Ok(fixture) => fixture,
            Err(error) => {
                println!("ERROR {}: {error:#}", path.display());
                broken += 1;
                continue;
            }
        };
        if run_fixture(&rule, &fixture) {
            passed += 1;
        } else {
            failed += 1;
        }
    }
    println!(
        "rule `{}`: {passed} fixture(s) passed, {failed} failed, {broken} unreadable",
        rule.spec.id()
    );
    Ok(if broken > 0 {
        EXIT_FAILURE
    } else if failed > 0 {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    })
}

/// Runs one fixture and prints its outcome; whether it passed.
fn run_fixture(rule: &Arc<RuleComponent>, fixture: &Fixture) -> bool {
    let (incidents, notices) = incidents_of(rule, fixture);
    let summary = format!(
        "{} ({} events, {} incidents)",
        fixture.path.display(),
        fixture.events.len(),
        incidents.len()
    );
    let diff = compare(&fixture.expect, &incidents);
    match &diff {
        None => println!("ok    {summary}"),
        Some(diff) => {
            println!("FAIL  {summary}");
            if let Some(description) = &fixture.description {
                println!("  fixture: {description}");
            }
            print!("{diff}");
        }
    }
    for notice in notices {
        println!("  notice: {notice}");
    }
    diff.is_none()
}

fn incidents_of(
    rule: &Arc<RuleComponent>,
    fixture: &Fixture,
) -> (Vec<IncidentRecord>, Vec<String>) {
    let mut runtime = Runtime::new(vec![rule.clone()], Settings::default());
    for event in &fixture.events {
        runtime.push(event.clone());
    }
    runtime.finish();
    let incidents = runtime
        .take_incidents()
        .iter()
        .map(|i| i.record())
        .collect();
    let notices = runtime
        .take_notices()
        .iter()
        .map(|n| n.to_string())
        .collect();
    (incidents, notices)
}

/// The fixture files the arguments name, directories expanded to their `*.toml`, sorted.
fn fixture_files(args: &TestArgs) -> anyhow::Result<Vec<PathBuf>> {
    let roots = if args.fixtures.is_empty() {
        let base = if args.rule.is_dir() {
            args.rule.as_path()
        } else {
            args.rule.parent().unwrap_or(Path::new("."))
        };
        vec![base.join("fixtures")]
    } else {
        args.fixtures.clone()
    };
    let mut files = Vec::new();
    for root in roots {
        if root.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
                .with_context(|| format!("cannot list `{}`", root.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            found.sort();
            files.extend(found);
        } else if root.is_file() {
            files.push(root);
        } else {
            bail!("no fixtures at `{}`", root.display());
        }
    }
    if files.is_empty() {
        bail!("no fixtures (`*.toml`) found");
    }
    Ok(files)
}
