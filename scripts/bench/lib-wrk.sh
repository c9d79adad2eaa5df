#!/usr/bin/env bash
# wrk (Debian's package), the load generator of the API latency benchmark (item 5 of
# docs/PERFORMANCE.md; crates/billing-bench/src/bin/api-latency.rs, scripts/bench/wrk/route.lua).
# Source after scripts/lib/common.sh (for `log`).

# Installs Debian's wrk unless it is there (apt; sudo when not root).
ensure_wrk() {
  [[ -x /usr/bin/wrk ]] && return
  log "installing Debian's wrk (apt)"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq wrk >/dev/null
}
