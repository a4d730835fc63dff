//! `vigil rule new`: scaffolds a rule crate that builds, tests and loads as it stands.
//!
//! The crate depends on the rule kit by path, since the kit is not published: the `rules/kit`
//! of the checkout this `vigil` was built from (or `--kit`). Inside that checkout's workspace
//! the path is relative and the crate joins the workspace's `members`; anywhere else the path
//! is absolute and the crate carries its own `[workspace]` table, so it builds standalone.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::EXIT_OK;

const CARGO_TOML: &str = include_str!("../../templates/rule/Cargo.toml.in");
const WORKSPACE_TABLE: &str = include_str!("../../templates/rule/workspace.toml.in");
const LIB_RS: &str = include_str!("../../templates/rule/lib.rs.in");
const FIXTURE: &str = include_str!("../../templates/rule/fixture.toml.in");
const GITIGNORE: &str = include_str!("../../templates/rule/gitignore.in");

/// The kit of the checkout this binary was built from.
const BUILT_KIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/kit");

#[derive(Debug, Args)]
pub struct NewArgs {
    /// The crate's name: lowercase letters, digits and `-`, starting with a letter.
    name: String,
    /// Where to create the crate; `./NAME` by default. Must not exist yet, or be empty.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The `rules/kit` directory to depend on; by default the one of the checkout this
    /// `vigil` was built from.
    #[arg(long, value_name = "DIR", env = "VIGIL_RULE_KIT")]
    kit: Option<PathBuf>,
}

pub fn new(args: NewArgs) -> anyhow::Result<u8> {
    check_name(&args.name)?;
    let dir = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    prepare_dir(&dir)?;
    let dir = dir.canonicalize()?;
    let kit = kit_dir(args.kit.as_deref())?;
    let workspace = kit.join("../..").canonicalize()?;
    let inside = dir.starts_with(&workspace);

    let kit_path = if inside {
        relative(&dir, &kit)
    } else {
        kit.clone()
    };
    let files = render(&args.name, &kit_path, inside);
    for (relative, text) in &files {
        let path = dir.join(relative);
        fs::create_dir_all(path.parent().expect("a file has a parent"))?;
        fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if inside {
        join_workspace(&workspace, &relative(&workspace, &dir))?;
    }
    println!("created rule crate `{}` in {}", args.name, dir.display());
    println!("  kit: {} ({})", kit_path.display(), placement(inside));
    println!(
        "  next: cd {} && cargo test && vigil rule test .",
        dir.display()
    );
    Ok(EXIT_OK)
}

fn placement(inside: bool) -> &'static str {
    if inside {
        "relative: the crate is a member of the kit's workspace"
    } else {
        "absolute: the crate is its own workspace"
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !first_ok || !rest_ok || name.ends_with('-') {
        bail!(
            "invalid rule name `{name}`: use lowercase letters, digits and `-`, starting with a \
             letter (for example `temp-service`)"
        );
    }
    Ok(())
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = fs::read_dir(dir)
            .with_context(|| format!("`{}` is not a directory", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!("`{}` exists and is not empty", dir.display());
        }
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))
}

fn kit_dir(requested: Option<&Path>) -> anyhow::Result<PathBuf> {
    let kit = requested.unwrap_or(Path::new(BUILT_KIT));
    let manifest = kit.join("Cargo.toml");
    let names_kit =
        fs::read_to_string(&manifest).is_ok_and(|text| text.contains("name = \"vigil-rule\""));
    if !names_kit {
        bail!(
            "no rule kit at `{}` (the checkout may have moved): pass `--kit DIR` with the \
             `rules/kit` directory of a Vigil checkout",
            kit.display()
        );
    }
    Ok(kit.canonicalize()?)
}

/// The crate's files, by path inside it.
fn render(name: &str, kit_path: &Path, inside: bool) -> Vec<(&'static str, String)> {
    let crate_name = name.replace('-', "_");
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{type}}", &type_name)
            .replace("{{id}}", &format!("Custom_{crate_name}"))
            .replace("{{kit_path}}", &kit_path.display().to_string())
            .replace(
                "{{workspace_table}}",
                if inside { "" } else { WORKSPACE_TABLE },
            )
    };
    let mut files = vec![
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("fixtures/example.toml", fill(FIXTURE)),
    ];
    if !inside {
        files.push((".gitignore", GITIGNORE.to_string()));
    }
    files
}

/// `to` as seen from `from`; both absolute and canonical.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for component in &to[common..] {
        path.push(component);
    }
    path
}

/// Adds `member` to the one-line `members = [...]` list of the workspace's manifest.
fn join_workspace(workspace: &Path, member: &Path) -> anyhow::Result<()> {
    let manifest = workspace.join("Cargo.toml");
    let text = fs::read_to_string(&manifest)?;
    let member = member.display().to_string();
    let Some(edited) = add_member(&text, &member) else {
        println!(
            "  add \"{member}\" to `members` in {} to build it with the workspace",
            manifest.display()
        );
        return Ok(());
    };
    fs::write(&manifest, edited)?;
    println!("  added \"{member}\" to the workspace's members");
    Ok(())
}

fn add_member(manifest: &str, member: &str) -> Option<String> {
    let mut out = String::with_capacity(manifest.len() + member.len() + 4);
    let mut added = false;
    for line in manifest.lines() {
        let one_line_list = line.starts_with("members = [") && line.trim_end().ends_with(']');
        if one_line_list && !added {
            let end = line.rfind(']')?;
            let items = line[..end].trim_end().trim_end_matches(',');
            let separator = if items.ends_with('[') { "" } else { ", " };
            out.push_str(&format!("{items}{separator}\"{member}\"]\n"));
            added = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    added.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_crate_names() {
        assert!(check_name("temp-service2").is_ok());
        for bad in ["", "Temp", "2fa", "a_b", "a-", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        let path = relative(Path::new("/w/rules/new"), Path::new("/w/rules/kit"));
        assert_eq!(path, Path::new("../kit"));
        assert_eq!(
            relative(Path::new("/w"), Path::new("/w/a/b")),
            Path::new("a/b")
        );
    }

    #[test]
    fn a_member_joins_a_one_line_list() {
        let manifest = "[workspace]\nmembers = [\"host\", \"rules/kit\"]\n";
        let edited = add_member(manifest, "rules/new").unwrap();
        assert_eq!(
            edited,
            "[workspace]\nmembers = [\"host\", \"rules/kit\", \"rules/new\"]\n"
        );
        assert_eq!(
            add_member("members = []\n", "a").unwrap(),
            "members = [\"a\"]\n"
        );
        assert!(add_member("members = [\n  \"host\",\n]\n", "a").is_none());
    }

    #[test]
    fn outside_the_workspace_the_crate_is_its_own_workspace() {
        let files = render("temp-service", Path::new("/k"), false);
        let manifest = &files[0].1;
        assert!(manifest.contains("vigil-rule = { path = \"/k\" }"));
        assert!(manifest.contains("\n[workspace]\n"));
        assert!(files[1].1.contains("pub struct TempService;"));
        let inside = render("temp-service", Path::new("../kit"), true);
        assert!(!inside[0].1.contains("[workspace]"));
    }
}
