#!/usr/bin/env bash
# Starts, stops or checks the moto server that emulates DynamoDB and SQS.
# Installs moto into the project-local virtualenv (.venv) when it is absent.
#
# usage: infra/emulator.sh start|stop|status
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/infra/env.sh"

state_dir="$root/.emulator"
pid_file="$state_dir/moto.pid"
log_file="$state_dir/moto.log"

ensure_moto() {
    if [ -x "$root/.venv/bin/moto_server" ]; then
        return
    fi
    echo "installing moto into $root/.venv" >&2
    python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/infra/requirements.txt"
}

is_up() {
    python3 - "$AWS_ENDPOINT_URL" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=1)
PY
}

start() {
    if is_up; then
        echo "emulator already running at $AWS_ENDPOINT_URL" >&2
        return
    fi
    ensure_moto
    mkdir -p "$state_dir"
    nohup "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$AFORO_EMULATOR_PORT" >"$log_file" 2>&1 &
    echo $! >"$pid_file"

    for _ in $(seq 1 100); do
        if is_up; then
            echo "emulator running at $AWS_ENDPOINT_URL (log: $log_file)" >&2
            return
        fi
        sleep 0.2
    done
    echo "emulator did not start within 20 s; see $log_file" >&2
    exit 1
}

stop() {
    # Match the command line rather than trusting the pid file alone: a stale
    # file may name an unrelated process, and a lost one would leave moto running.
    pkill -f "moto_server -H 127.0.0.1 -p $AFORO_EMULATOR_PORT\$" 2>/dev/null || true
    rm -f "$pid_file"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if is_up; then echo "up at $AWS_ENDPOINT_URL"; else echo "down"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
