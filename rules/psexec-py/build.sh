#!/usr/bin/env bash
# Builds the PsExec service installation rule into a WebAssembly component.
#
# Usage: rules/psexec-py/build.sh [OUTPUT]
#
# OUTPUT defaults to target/rules/psexec_py.wasm under the repository root; a relative OUTPUT is
# taken from the current directory. componentize-py is taken from $COMPONENTIZE_PY, else from
# PATH, else from the repository's .venv. The rule's sources are copied to a temporary
# directory first, so the build writes nothing into the tree but OUTPUT.
set -euo pipefail

rule_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd -- "$rule_dir/../.." && pwd)"
wit_dir="$rule_dir/../../wit/0.1.0"

output="${1:-$repo_root/target/rules/psexec_py.wasm}"
case "$output" in
    /*) ;;
    *) output="$PWD/$output" ;;
esac

if [[ -n "${COMPONENTIZE_PY:-}" ]]; then
    componentize_py="$COMPONENTIZE_PY"
elif command -v componentize-py >/dev/null 2>&1; then
    componentize_py="$(command -v componentize-py)"
elif [[ -x "$repo_root/.venv/bin/componentize-py" ]]; then
    componentize_py="$repo_root/.venv/bin/componentize-py"
else
    echo "build.sh: componentize-py not found: set COMPONENTIZE_PY, put it on PATH, or run: python3 -m venv $repo_root/.venv && $repo_root/.venv/bin/pip install componentize-py" >&2
    exit 1
fi
# The build runs from a temporary directory: a relative path must not depend on where it ran.
case "$componentize_py" in
    */*) [[ "$componentize_py" == /* ]] || componentize_py="$PWD/$componentize_py" ;;
esac
if ! command -v -- "$componentize_py" >/dev/null 2>&1; then
    echo "build.sh: componentize-py at '$componentize_py' is not executable" >&2
    exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT

# Only the rule's modules go on the component's Python path.
mkdir -- "$work/src"
cp -- "$rule_dir/app.py" "$rule_dir/logic.py" "$work/src/"
mkdir -p -- "$(dirname -- "$output")"

# `--stub-wasi` replaces the WASI imports of the Python runtime with stubs inside the
# component, so the rule imports nothing but the rule contract.
# Run from the temporary directory, without VIRTUAL_ENV, so that nothing is written into the
# tree and no virtual environment's site-packages is added to the component's Python path.
cd -- "$work"
env -u VIRTUAL_ENV "$componentize_py" \
    --wit-path "$wit_dir" \
    --world detection-rule \
    --quiet \
    componentize \
    --stub-wasi \
    --python-path "$work/src" \
    --output "$output" \
    app
echo "built $output"
