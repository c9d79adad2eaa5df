# Build and deploy tools for the Lambda artifacts: AWS SAM CLI, cargo-lambda and zig (all from
# PyPI, pinned in requirements-sam.txt) in a venv of their own, .tools/venv-sam (SAM pins its own
# boto3, so it stays apart from .venv's test tools). Sourced after lib/common.sh, not run.

SAM_VENV="$REPO_ROOT/.tools/venv-sam"
ARM64_TARGET="aarch64-unknown-linux-gnu"

# Installs the tools when requirements-sam.txt changed, and puts them first on PATH.
ensure_sam_tools() {
  local stamp="$SAM_VENV/.requirements.sha256" want
  want="$(sha256sum "$REPO_ROOT/requirements-sam.txt" | cut -d' ' -f1)"
  if ! [[ -x "$SAM_VENV/bin/sam" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "installing aws-sam-cli, cargo-lambda and ziglang into .tools/venv-sam"
    mkdir -p "$REPO_ROOT/.tools"
    python3 -m venv "$SAM_VENV" 2>/dev/null || {
      log "python3-venv missing: installing it with apt"
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$SAM_VENV"
    }
    "$SAM_VENV/bin/python" -m pip install -q --upgrade pip
    "$SAM_VENV/bin/python" -m pip install -q -r "$REPO_ROOT/requirements-sam.txt"
    echo "$want" >"$stamp"
  fi
  # cargo-lambda finds zig through the venv's python (the ziglang package).
  export PATH="$SAM_VENV/bin:$PATH"
  export SAM_CLI_TELEMETRY=0
  # cargo lambda 1.9 mishandles --target-dir: the shared target/ is given through the variable.
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
}

# Sets LAMBDA_ARCH to arm64 (what AWS runs) when the aarch64 standard library is installed or can
# be added; otherwise says so and falls back to this machine's own architecture, for checks only
# (the deploy path refuses to fall back).
ensure_arm64_target() {
  if rustup target list --installed 2>/dev/null | grep -qx "$ARM64_TARGET" \
    || rustup target add "$ARM64_TARGET"; then
    LAMBDA_ARCH=arm64
  else
    LAMBDA_ARCH="$(host_lambda_arch)"
    log "WARNING: 'rustup target add $ARM64_TARGET' failed: building for this machine's" \
      "architecture ($LAMBDA_ARCH) instead, to check the build; deploys need arm64"
  fi
}

# This machine's architecture in SAM's words (x86_64 or arm64).
host_lambda_arch() {
  case "$(uname -m)" in
    aarch64 | arm64) echo arm64 ;;
    *) echo x86_64 ;;
  esac
}

# cargo lambda's flag for an architecture in SAM's words.
cargo_lambda_arch_flag() {
  case "$1" in
    arm64) echo --arm64 ;;
    *) echo --x86-64 ;;
  esac
}

# sam validate --lint: the SAM transform, then cfn-lint on the result (offline).
sam_validate() {
  sam validate --lint --template-file "$REPO_ROOT/infra/template.yaml" --region us-east-1
}

# sam build of every function into .tools/aws-sam/build, for LAMBDA_ARCH (arm64 unless the
# target could not be added: then a copy of the template with the host's architecture is built).
sam_build() {
  local template="$REPO_ROOT/infra/template.yaml"
  if [[ "${LAMBDA_ARCH:-arm64}" != arm64 ]]; then
    mkdir -p "$REPO_ROOT/.tools/infra-host"
    template="$REPO_ROOT/.tools/infra-host/template.yaml"
    sed -e "s/Architectures: \[arm64\]/Architectures: [$LAMBDA_ARCH]/" \
      -e 's#CodeUri: \.\./$#CodeUri: ../../#' \
      "$REPO_ROOT/infra/template.yaml" >"$template"
  fi
  # SAM_BUILD_FAST=1 (CI): the release profile without LTO and with parallel codegen units, to
  # check that every function builds in a fraction of the time; deploys keep the real profile.
  local fast=()
  if [[ "${SAM_BUILD_FAST:-0}" == 1 ]]; then
    fast=(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16)
  fi
  # SAM's cargo lambda builder is a beta feature; it builds in the workspace (CodeUri: ../).
  env "${fast[@]}" sam build --beta-features --template-file "$template" \
    --build-dir "$REPO_ROOT/.tools/aws-sam/build" --cache-dir "$REPO_ROOT/.tools/aws-sam/cache"
}
