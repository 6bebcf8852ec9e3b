#!/usr/bin/env bash
# Runs a throw-away local Kubernetes API server (etcd + kube-apiserver v1.20.2, no Docker)
# until Ctrl-C, via `hostplane local-cluster`. Arguments pass through, e.g.
#   scripts/local-cluster.sh --kubeconfig /tmp/hostplane.kubeconfig
#
# kube-binaries.sh runs first so a first-time build (5-8 minutes) shows its progress here;
# its answer is handed on through KUBEBUILDER_ASSETS. The debug profile shares the test
# build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEBUILDER_ASSETS="$(scripts/kube-binaries.sh)"
export KUBEBUILDER_ASSETS
exec cargo run --quiet -- local-cluster "$@"
