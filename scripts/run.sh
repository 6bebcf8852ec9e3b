#!/usr/bin/env bash
# Runs hostplane with the given arguments after making sure a local kube-apiserver, etcd and
# kubectl exist (kube-binaries.sh: found, cached, or built from Debian's source with visible
# progress the first time, 5-8 minutes).
#
#   scripts/run.sh demo            # the README's run command
#   scripts/run.sh local-cluster   # just a real API server, until Ctrl-C
#
# The debug profile shares its build cache with the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
KUBEBUILDER_ASSETS="$(scripts/kube-binaries.sh)"
export KUBEBUILDER_ASSETS
exec cargo run --quiet -- "$@"
