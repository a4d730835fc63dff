//! The sandbox against hostile rules (rules/hostile/), each run beside the PAExec rule in the
//! same tenant and in another one: the PAExec rule still gives exactly its incidents, the run
//! goes on, and the hostile rule's failure is one clear line. And tenants: two tenants running
//! the same rule get exactly their own incidents.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value as Json, json};
use vigil::config::Config;
use vigil::event::Event;
use vigil::incident::IncidentRecord;
use vigil::notice::Notice;
use vigil::rule::{RuleComponent, load_dir};
use vigil::runtime::{Runtime, Settings, TenantPlan, Totals};
use vigil::sandbox::Limits;

use crate::paexec::DERIVED_INCIDENTS;
use crate::support::{data, engine, load, paexec, read_events};

const PAEXEC_ID: &str = "PH_Rule_SIGMA_1871";
const DERIVED: &str = "windows/derived_paexec_7045.jsonl";

/// Limits low enough that hostile cases end quickly, high enough that the PAExec rule (a few
/// microseconds a call) never comes near them on a loaded machine.
fn test_limits() -> Limits {
    Limits {
        cpu_ms: 50,
        memory_mib: 16,
        ..Limits::default()
    }
}

/// What a run of configured tenants produced.
struct TenantRun {
    incidents: Vec<IncidentRecord>,
    notices: Vec<Notice>,
    totals: Totals,
    /// (tenant, rule) to (events matched, failures, events skipped).
    stats: BTreeMap<(String, String), (u64, u64, u64)>,
}

impl TenantRun {
    /// The lines the run reported, as a user reads them.
    fn lines(&self) -> Vec<String> {
        self.notices.iter().map(ToString::to_string).collect()
    }

    fn matched(&self, tenant: &str, rule: &str) -> u64 {
        self.stats[&(tenant.to_string(), rule.to_string())].0
    }
}

fn run_tenants(plans: &[(&str, Vec<Arc<RuleComponent>>)], events: &[Event]) -> TenantRun {
    let plans = plans
        .iter()
        .map(|(name, rules)| {
            let plan = TenantPlan {
                rules: rules.clone(),
                limits: test_limits(),
            };
            (Arc::<str>::from(*name), plan)
        })
        .collect();
    let mut runtime = Runtime::with_tenants(plans, Settings::default());
    for event in events {
        runtime.push(event.clone());
    }
    runtime.finish();
    let mut incidents: Vec<IncidentRecord> = runtime
        .take_incidents()
        .iter()
        .map(|i| i.record())
        .collect();
    incidents.sort_by(|a, b| a.incident_id.cmp(&b.incident_id));
    let stats = runtime
        .detector_stats()
        .into_iter()
        .map(|(tenant, rule, s)| ((tenant, rule), (s.matched, s.failures, s.skipped)))
        .collect();
    TenantRun {
        incidents,
        notices: runtime.take_notices(),
        totals: runtime.totals(),
        stats,
    }
}

/// The derived PAExec events, as events of `tenant`.
fn derived_events(tenant: &str) -> Vec<Event> {
    let mut events = read_events(&data(DERIVED));
    for event in &mut events {
        event.tenant = tenant.into();
    }
    events
}

/// The events of both tenants, interleaved one by one.
fn interleaved(first: &str, second: &str) -> Vec<Event> {
    derived_events(first)
        .into_iter()
        .zip(derived_events(second))
        .flat_map(|(a, b)| [a, b])
        .collect()
}

/// The hand-derived PAExec incidents whose host is one of `hosts` (all when empty), as
/// (host, service, image path, count, first, last).
fn expected_paexec(hosts: &[&str]) -> Vec<(String, String, String, u64, String, String)> {
    let mut expected: Vec<_> = DERIVED_INCIDENTS
        .iter()
        .filter(|(host, ..)| hosts.is_empty() || hosts.contains(host))
        .map(|(host, service, path, count, first, last)| {
            let text = |s: &str| s.to_string();
            (
                text(host),
                text(service),
                text(path),
                *count,
                text(first),
                text(last),
            )
        })
        .collect();
    expected.sort();
    expected
}

/// The PAExec incidents of `tenant`, in the same form.
fn paexec_incidents(
    run: &TenantRun,
    tenant: &str,
) -> Vec<(String, String, String, u64, String, String)> {
    let mut found: Vec<_> = run
        .incidents
        .iter()
        .filter(|incident| incident.rule_id == PAEXEC_ID && incident.tenant == tenant)
        .map(|incident| {
            let attribute = |name: &str| incident.attributes[name].as_str().unwrap().to_string();
            (
                attribute("hostName"),
                attribute("serviceName"),
                attribute("serviceFileName"),
                incident.count,
                incident.first_seen.clone(),
                incident.last_seen.clone(),
            )
        })
        .collect();
    found.sort();
    found
}

/// The PAExec rule of `tenant` gave exactly its 7 matches in 6 incidents, whatever ran beside.
fn assert_paexec_intact(run: &TenantRun, tenant: &str) {
    assert_eq!(
        paexec_incidents(run, tenant),
        expected_paexec(&[]),
        "tenant `{tenant}`"
    );
    assert_eq!(run.matched(tenant, PAEXEC_ID), 7, "tenant `{tenant}`");
    let (_, failures, skipped) = run.stats[&(tenant.to_string(), PAEXEC_ID.to_string())];
    assert_eq!((failures, skipped), (0, 0), "tenant `{tenant}`");
}

/// Some line names the rule, its tenant and `cause`, on one line.
fn assert_reported(run: &TenantRun, rule: &str, tenant: &str, cause: &str) {
    let lines = run.lines();
    let named = format!("rule `{rule}` of tenant `{tenant}`");
    assert!(
        lines
            .iter()
            .any(|line| line.contains(&named) && line.contains(cause) && !line.contains('\n')),
        "no line says {named} ... {cause}: {lines:#?}"
    );
    assert!(
        lines.iter().all(|line| !line.contains(PAEXEC_ID)),
        "the PAExec rule was reported: {lines:#?}"
    );
}

/// Runs a hostile rule beside the PAExec rule in the same tenant and in another one; checks
/// that the PAExec rule is intact and the failure is reported with `cause`. Returns both runs.
fn contained(hostile: &str, rule: &str, cause: &str) -> [TenantRun; 2] {
    let hostile = load(hostile);
    let same = run_tenants(
        &[("soc", vec![paexec(), hostile.clone()])],
        &derived_events("soc"),
    );
    assert_paexec_intact(&same, "soc");
    assert_reported(&same, rule, "soc", cause);

    let other = run_tenants(
        &[("acme", vec![paexec()]), ("evil", vec![hostile])],
        &interleaved("acme", "evil"),
    );
    assert_paexec_intact(&other, "acme");
    assert_reported(&other, rule, "evil", cause);
    assert!(
        other
            .incidents
            .iter()
            .all(|incident| incident.tenant == "acme" || incident.rule_id != PAEXEC_ID)
    );
    [same, other]
}

#[test]
fn an_infinite_loop_runs_out_of_cpu_time() {
    for run in contained(
        vigil_test_rules::HOSTILE_LOOP,
        "Hostile_Loop",
        "ran out of CPU time (limit 50 ms per call)",
    ) {
        assert!(
            run.totals.skipped > 0,
            "the loop's events are counted as skipped"
        );
    }
}

#[test]
fn a_memory_bomb_hits_its_memory_limit() {
    contained(
        vigil_test_rules::HOSTILE_MEMORY,
        "Hostile_Memory",
        "exceeded its memory limit of 16 MiB",
    );
}

#[test]
fn deep_recursion_traps() {
    contained(
        vigil_test_rules::HOSTILE_RECURSION,
        "Hostile_Recursion",
        "trapped: ",
    );
}

#[test]
fn an_oversized_match_result_is_refused() {
    contained(
        vigil_test_rules::HOSTILE_HITS,
        "Hostile_Hits",
        "returned an oversized result: 100000 hits",
    );
}

/// The line of the derived file whose `Computer` is the host the panic rule cannot handle,
/// read from the JSON.
fn poison_line() -> u64 {
    let file = std::fs::File::open(data(DERIVED)).unwrap();
    let lines = std::io::BufReader::new(file).lines();
    let lines: Vec<Json> = lines
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let hits: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i]["Event"]["System"]["Computer"] == json!("rootdc1.offsec.lan"))
        .collect();
    assert_eq!(hits.len(), 1, "one event of rootdc1 in the file");
    hits[0] as u64 + 1
}

#[test]
fn a_panic_on_one_event_names_that_event_and_evaluates_the_others() {
    let line = poison_line();
    let total = read_events(&data(DERIVED)).len() as u64;
    let runs = contained(
        vigil_test_rules::HOSTILE_PANIC,
        "Hostile_Panic",
        "trapped: ",
    );
    for (run, tenant) in runs.iter().zip(["soc", "evil"]) {
        let poisons: Vec<_> = run
            .notices
            .iter()
            .filter_map(|notice| match notice {
                Notice::Poison(poison) => Some(poison),
                _ => None,
            })
            .collect();
        assert_eq!(poisons.len(), 1, "{:#?}", run.lines());
        assert_eq!(poisons[0].origin.position, line);
        assert_eq!(poisons[0].tenant, tenant);
        assert!(
            poisons[0]
                .attributes
                .contains(&("hostName".to_string(), json!("rootdc1.offsec.lan")))
        );
        // Every 7045 event but the poison one matches the panic rule.
        assert_eq!(run.matched(tenant, "Hostile_Panic"), total - 1);
    }
}

#[test]
fn a_snooping_rule_sees_nothing_of_the_host_and_its_output_is_bounded() {
    let total = read_events(&data(DERIVED)).len() as u64;
    let snoop = load(vigil_test_rules::HOSTILE_SNOOP);
    let run = run_tenants(
        &[("acme", vec![paexec()]), ("evil", vec![snoop.clone()])],
        &interleaved("acme", "evil"),
    );
    assert_paexec_intact(&run, "acme");
    // It matches an event only when it found no environment, arguments, input or moving
    // clock, while writing 64 KiB per event to stdout and to stderr.
    assert_eq!(run.matched("evil", "Hostile_Snoop"), total);
    assert_eq!(run.lines(), Vec::<String>::new());
}

/// A rules directory holding the PAExec rule and one more file.
fn dir_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(vigil_test_rules::PAEXEC, dir.path().join("paexec.wasm")).unwrap();
    std::fs::write(dir.path().join(name), bytes).unwrap();
    dir
}

/// A file the host must refuse at load time: the PAExec rule beside it still loads and gives
/// its incidents, in the same tenant and another, and the refusal is one line naming the file
/// and `cause`.
fn refused(name: &str, bytes: &[u8], cause: &str) {
    let mixed = dir_with(name, bytes);
    let set = load_dir(engine(), mixed.path()).unwrap();
    let errors: Vec<String> = set.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].contains(name) && errors[0].contains(cause) && !errors[0].contains('\n'),
        "{errors:#?}"
    );
    let ids: Vec<&str> = set.rules.iter().map(|rule| rule.spec.id()).collect();
    assert_eq!(ids, [PAEXEC_ID]);

    let same = run_tenants(&[("soc", set.rules.clone())], &derived_events("soc"));
    assert_paexec_intact(&same, "soc");
    let alone = tempfile::tempdir().unwrap();
    std::fs::write(alone.path().join(name), bytes).unwrap();
    let hostile = load_dir(engine(), alone.path()).unwrap();
    assert_eq!((hostile.rules.len(), hostile.errors.len()), (0, 1));
    let other = run_tenants(
        &[("acme", vec![paexec()]), ("evil", hostile.rules)],
        &interleaved("acme", "evil"),
    );
    assert_paexec_intact(&other, "acme");
    assert_eq!(other.incidents.len(), DERIVED_INCIDENTS.len());
}

fn bytes(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn an_oversized_describe_is_refused_at_load() {
    refused(
        "describe.wasm",
        &bytes(vigil_test_rules::HOSTILE_DESCRIBE),
        "`describe` returned an oversized result: 16777",
    );
}

#[test]
fn a_rule_that_reads_files_is_refused_naming_the_import() {
    refused(
        "fs.wasm",
        &bytes(vigil_test_rules::HOSTILE_FS),
        "imports `wasi:filesystem/",
    );
}

#[test]
fn a_rule_that_opens_sockets_is_refused_naming_the_import() {
    refused(
        "net.wasm",
        &bytes(vigil_test_rules::HOSTILE_NET),
        "`wasi:sockets/tcp@",
    );
}

#[test]
fn a_component_of_another_world_is_refused() {
    refused(
        "command.wasm",
        &bytes(vigil_test_rules::HOSTILE_COMMAND),
        "not a Vigil rule: it exports `wasi:cli/run@",
    );
}

#[test]
fn random_bytes_and_a_core_module_are_refused() {
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    refused("random.wasm", &random, "not a WebAssembly file");
    // The smallest valid core module: the magic number and version 1, nothing else.
    let core = b"\0asm\x01\0\0\0";
    refused(
        "core.wasm",
        core,
        "a core WebAssembly module, not a component",
    );
}

#[test]
fn two_tenants_running_the_same_rule_get_exactly_their_own_incidents() {
    let rule = paexec();
    let run = run_tenants(
        &[("acme", vec![rule.clone()]), ("globex", vec![rule])],
        &interleaved("acme", "globex"),
    );
    assert_paexec_intact(&run, "acme");
    assert_paexec_intact(&run, "globex");
    let ids = |tenant: &str| -> Vec<String> {
        let incidents = run.incidents.iter().filter(|i| i.tenant == tenant);
        incidents.map(|i| i.incident_id.clone()).collect()
    };
    let (acme, globex) = (ids("acme"), ids("globex"));
    assert!(
        acme.iter().all(|id| !globex.contains(id)),
        "ids are per tenant"
    );
    assert_eq!(run.incidents.len(), 2 * DERIVED_INCIDENTS.len());
}

/// Tenants assigned from an attribute by the config file: each gets the incidents of its own
/// hosts only, and events of hosts no tenant claims are reported, not evaluated.
#[test]
fn tenants_from_the_config_file_see_only_their_own_events() {
    let config = Config::parse(
        Path::new("test.toml"),
        r#"
        [defaults]
        rules = "rules"
        tenant_attribute = "hostName"
        [tenants.acme]
        values = ["jump01.offsec.lan"]
        [tenants.globex]
        values = ["fs02.offsec.lan"]
        limits = { cpu_ms = 20 }
        "#,
        Path::new("/"),
    )
    .unwrap();
    assert_eq!(config.tenants[1].limits.cpu_ms, 20);
    let mut events = read_events(&data(DERIVED));
    for event in &mut events {
        config.assign(Path::new("derived.jsonl"), event);
    }
    let rule = paexec();
    let run = run_tenants(
        &[("acme", vec![rule.clone()]), ("globex", vec![rule])],
        &events,
    );
    assert_eq!(
        paexec_incidents(&run, "acme"),
        expected_paexec(&["jump01.offsec.lan"])
    );
    assert_eq!(
        paexec_incidents(&run, "globex"),
        expected_paexec(&["fs02.offsec.lan"])
    );
    // rootdc1's one event belongs to no tenant.
    assert_eq!(run.totals.no_tenant, 1);
    let lines = run.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].contains(&format!(
            ":{}: event of tenant `rootdc1.offsec.lan`",
            poison_line()
        )),
        "{lines:#?}"
    );
}

#[test]
fn the_example_config_parses() {
    let path = crate::support::repo_root().join("examples/vigil.toml");
    let config = Config::load(&path).unwrap_or_else(|error| panic!("{error}"));
    assert!(config.tenants.len() >= 2);
}

#[test]
fn a_rule_that_keeps_failing_is_quarantined_and_its_skipped_events_counted() {
    let spin = load(vigil_test_rules::HOSTILE_LOOP);
    let events = interleaved("acme", "evil");
    let plans = [("acme", vec![paexec()]), ("evil", vec![spin])];
    let plans = plans
        .iter()
        .map(|(name, rules)| {
            let limits = Limits {
                cpu_ms: 10,
                quarantine_after: 2,
                quarantine_batches: 2,
                ..Limits::default()
            };
            let plan = TenantPlan {
                rules: rules.clone(),
                limits,
            };
            (Arc::<str>::from(*name), plan)
        })
        .collect();
    // One event of each tenant per batch: 11 batches of the loop's tenant.
    let settings = Settings {
        batch_size: 2,
        ..Settings::default()
    };
    let mut runtime = Runtime::with_tenants(plans, settings);
    for event in &events {
        runtime.push(event.clone());
    }
    runtime.finish();
    let lines: Vec<String> = runtime
        .take_notices()
        .iter()
        .map(|n| n.to_string())
        .collect();
    // Batches 1-2 fail, 3-4 skipped; 5-6 fail, 7-10 skipped; 11 fails.
    let quarantined: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("quarantined for"))
        .collect();
    assert_eq!(quarantined.len(), 2, "{lines:#?}");
    assert!(quarantined[0].contains("for the next 2 batches after failing in 2 batches"));
    assert!(quarantined[1].contains("for the next 4 batches"));
    assert!(
        lines.iter().any(|l| l.contains(
            "rule `Hostile_Loop` of tenant `evil` was quarantined \
             2 times; it skipped 6 events"
        )),
        "{lines:#?}"
    );
    assert_eq!(runtime.totals().skipped, 6);
    let incidents = runtime.take_incidents();
    assert_eq!(incidents.len(), DERIVED_INCIDENTS.len());
}

/// `vigil run --config FILE --poison FILE`, as a user runs it: the tenant's events come from
/// the file the config names, the poison event lands in the poison file with its attributes,
/// and the PAExec incidents are all there.
#[test]
fn the_cli_writes_poison_events_where_asked() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::copy(vigil_test_rules::PAEXEC, rules.join("paexec.wasm")).unwrap();
    std::fs::copy(vigil_test_rules::HOSTILE_PANIC, rules.join("panic.wasm")).unwrap();
    let events = data(DERIVED);
    let config = dir.path().join("vigil.toml");
    let text = format!(
        "[defaults]\nrules = \"rules\"\n[tenants.soc]\nfiles = [{:?}]\n",
        events.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let poison = dir.path().join("poison.jsonl");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "--config"])
        .arg(&config)
        .arg("--poison")
        .arg(&poison)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 rule failures"), "{stderr}");
    assert!(!stderr.contains("poison event"), "{stderr}");

    let incidents: Vec<Json> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let paexec = incidents
        .iter()
        .filter(|i| i["rule_id"] == json!(PAEXEC_ID));
    assert_eq!(paexec.count(), DERIVED_INCIDENTS.len());
    assert!(incidents.iter().all(|i| i["tenant"] == json!("soc")));

    let written = std::fs::read_to_string(&poison).unwrap();
    let records: Vec<Json> = written
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 1, "{written}");
    let record = &records[0];
    assert_eq!(record["source"], json!(events.display().to_string()));
    assert_eq!(record["line"], json!(poison_line()));
    assert_eq!(record["tenant"], json!("soc"));
    assert_eq!(record["rule"], json!("Hostile_Panic"));
    assert!(record["cause"].as_str().unwrap().starts_with("trapped: "));
    assert_eq!(
        record["attributes"]["hostName"],
        json!("rootdc1.offsec.lan")
    );
    assert_eq!(
        record["attributes"]["serviceName"],
        json!("PAExec-2231-ansible01")
    );
}
