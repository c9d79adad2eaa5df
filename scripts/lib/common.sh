# Shared helpers for scripts/*: install what is missing, start and stop local servers.
# Sourced, not run. Everything installed lands in the repository's git-ignored folders.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO_ROOT/.venv"
RUN_DIR="$REPO_ROOT/.run"

log() { printf '\033[1m==> [%4ss] %s\033[0m\n' "$SECONDS" "$*" >&2; }

# rustfmt and clippy come with rustup's default profile, but not with every minimal toolchain.
ensure_rust_components() {
  command -v cargo >/dev/null || { echo "cargo is not installed: install Rust with rustup first" >&2; exit 1; }
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      log "installing $component"
      rustup component add "$component"
    fi
  done
}

# A Python venv with requirements-dev.txt, reinstalled only when that file changes.
ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(sha256sum "$REPO_ROOT/requirements-dev.txt" | cut -d' ' -f1)"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  log "installing Python test tools into .venv (moto, stripe, pytest)"
  python3 -m venv "$VENV" 2>/dev/null || {
    log "python3-venv missing: installing it with apt"
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  }
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$REPO_ROOT/requirements-dev.txt"
  echo "$want" >"$stamp"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for_http URL SECONDS: polls until URL answers anything at all.
wait_for_http() {
  local url="$1" seconds="$2"
  python3 - "$url" "$seconds" <<'PY'
import sys, time, urllib.request, urllib.error
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit(1)
PY
}

STARTED_PIDS=()

# Stops everything started through start_background, even after a failure.
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]:-}"; do
    [[ -n "$pid" ]] || continue
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

# start_background NAME CMD...: runs CMD with its output in .run/NAME.log and remembers its pid.
start_background() {
  local name="$1"; shift
  mkdir -p "$RUN_DIR"
  "$@" >"$RUN_DIR/$name.log" 2>&1 &
  STARTED_PIDS+=("$!")
}

# Starts moto's server on a free loopback port and exports the endpoint for the tests.
start_moto() {
  local port
  port="$(free_port)"
  start_background moto "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
  if ! wait_for_http "http://127.0.0.1:$port/moto-api/" 30; then
    cat "$RUN_DIR/moto.log" >&2
    echo "moto did not start" >&2
    exit 1
  fi
  export BILLING_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  export BILLING_REQUIRE_DYNAMODB=1
  log "moto serving DynamoDB and Secrets Manager at $BILLING_TEST_DYNAMODB_ENDPOINT"
}

# A program from Debian's packages, installed with apt (sudo when not root) when missing:
#   ensure_debian_package PROGRAM_PATH PACKAGE
ensure_debian_package() {
  local program="$1" package="$2"
  [[ -x "$program" ]] && return
  log "installing Debian's $package (apt)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$package" >/dev/null
}

# Debian's chromium for the browser tests (never a downloaded browser).
ensure_chromium() { ensure_debian_package /usr/bin/chromium chromium; }

# Debian's wrk, the load generator of the API latency benchmark (docs/PERFORMANCE.md item 5).
ensure_wrk() { ensure_debian_package /usr/bin/wrk wrk; }
