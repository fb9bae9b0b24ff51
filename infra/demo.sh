#!/usr/bin/env bash
# The main job: starts the local AWS emulator (installing it into .venv when
# absent), creates the tables and queues of template.yaml, loads the seed
# catalog, and drives demo traffic through the real handlers. The emulator
# keeps running afterwards, so a second run replays the same input against
# the same store; stop it with `infra/emulator.sh stop`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
. infra/env.sh

infra/emulator.sh start
cargo build --quiet --locked -p aforo-cli
target/debug/aforo bootstrap
target/debug/aforo seed
RUST_LOG="${RUST_LOG:-warn}" target/debug/aforo demo
