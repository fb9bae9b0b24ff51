#!/usr/bin/env bash
# Runs every test: unit tests, handler tests against the local emulator, the
# end-to-end pipeline tests, and the template lint (cfn-lint, sam validate).
# Installs the Python tools into .venv and starts the emulator when needed.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. infra/env.sh

if [ ! -x .venv/bin/cfn-lint ] || [ ! -x .venv/bin/sam ] || [ ! -x .venv/bin/moto_server ]; then
    echo "installing Python tools into .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-dev.txt
fi

# Stop the emulator afterwards only if this script started it, so a running
# demo store survives a test run.
if ! infra/emulator.sh status >/dev/null 2>&1; then
    infra/emulator.sh start
    trap 'infra/emulator.sh stop' EXIT
fi

cargo test --workspace --all-targets --locked "$@"
