# Vigil's tasks. `just --list` shows them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Where `build` leaves every rule component.
rules_dir := "target/rules"
# Rust rule crates built into components.
rust_rules := "paexec"

# List the recipes.
default:
    @just --list

# Install what building needs: the wasm32-wasip2 target, and a venv with componentize-py for
# the Python rule.
setup:
    rustup target add wasm32-wasip2
    [ -x .venv/bin/componentize-py ] || \
        { python3 -m venv .venv && .venv/bin/pip install componentize-py==0.25.1; }

# Install what the tests need besides: cargo-component, the second way a scaffolded rule
# builds (about 8 minutes the first time).
setup-test: setup
    rustup target add wasm32-wasip1
    command -v cargo-component >/dev/null || cargo install cargo-component@0.21.1 --locked

# Build `target/release/vigil` and every rule component into target/rules/.
build: build-rules
    cargo build --release -p vigil
    @echo "built target/release/vigil and {{rules_dir}}/"

# Build every rule component into target/rules/<name>.wasm.
build-rules: setup
    #!/usr/bin/env bash
    set -euo pipefail
    packages=()
    for rule in {{rust_rules}}; do packages+=(-p "$rule"); done
    CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=true \
        cargo build --release --target wasm32-wasip2 "${packages[@]}"
    mkdir -p {{rules_dir}}
    for rule in {{rust_rules}}; do
        cp "target/wasm32-wasip2/release/$rule.wasm" "{{rules_dir}}/$rule.wasm"
    done
    COMPONENTIZE_PY=.venv/bin/componentize-py rules/psexec-py/build.sh {{rules_dir}}/psexec_py.wasm

# The demo: every rule over the sample events in examples/.
run: build
    target/release/vigil run --rules {{rules_dir}} examples/events.jsonl

# Every test of the workspace, and the Python rule's own unit tests.
test: setup-test
    cargo test --workspace
    cd rules/psexec-py && ../../.venv/bin/python -m unittest --quiet

# Benchmarks: the match path through a component against the same predicate native, what
# the sandbox's limits cost on it, reading EVTX against JSON lines, and the server (cache
# against compile, events per second over HTTP, the event path's stall during swaps).
bench: setup
    cargo bench -p vigil --bench match_path
    cargo bench -p vigil --bench limits
    cargo bench -p vigil --bench inputs
    cargo bench -p vigil --bench serve

# Formatting and lints.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
