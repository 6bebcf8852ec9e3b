#!/usr/bin/env bash
# Prints a directory holding `etcd`, `kube-apiserver` and `kubectl` (the envtest
# "KUBEBUILDER_ASSETS" layout), installing or building them first when needed.
#
# Order of preference, cheapest first:
#   1. $KUBEBUILDER_ASSETS, when it already holds all three (the envtest convention);
#   2. all three on PATH;
#   3. the cache ($HOSTPLANE_CACHE, default ~/.cache/hostplane), filled by an earlier build;
#   4. a build of kube-apiserver and kubectl v1.20.2 from Debian bookworm's `kubernetes`
#      source package, with etcd from Debian's `etcd-server` (about 5-8 minutes on 2 cores).
#
# Why build from source: this machine kind reaches only package registries, so no release
# binaries can be downloaded, and Debian ships the whole v1.20.2 tree with vendor/.
# Everything it prints on stdout is the directory; progress goes to stderr.
set -euo pipefail

cache="${HOSTPLANE_CACHE:-$HOME/.cache/hostplane}"
k8s_version="1.20.2"
deb_version="1.20.5+really1.20.2-1.1+deb12u1"
assets="$cache/kube-$k8s_version/bin"

log() { printf 'kube-binaries: %s\n' "$*" >&2; }
has_all() { [ -x "$1/etcd" ] && [ -x "$1/kube-apiserver" ] && [ -x "$1/kubectl" ]; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && has_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
if command -v etcd >/dev/null && command -v kube-apiserver >/dev/null && command -v kubectl >/dev/null; then
  dir="$cache/path-assets"; mkdir -p "$dir"
  for b in etcd kube-apiserver kubectl; do ln -sf "$(command -v "$b")" "$dir/$b"; done
  echo "$dir"; exit 0
fi
if has_all "$assets"; then echo "$assets"; exit 0; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

log "no etcd/kube-apiserver/kubectl found; building v$k8s_version from Debian source into $assets"
src_list=/etc/apt/sources.list.d/hostplane-deb-src.sources
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src .*bookworm' /etc/apt/sources.list; then
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    | as_root tee "$src_list" >/dev/null
fi
as_root apt-get update -q >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  golang-go rsync jq etcd-server golang-github-modern-go-reflect2-dev dpkg-dev make >&2

work="$cache/build"
mkdir -p "$work/src"
tree="$work/kubernetes-$k8s_version"
if [ ! -f "$tree/.hostplane-prepared" ]; then
  rm -rf "$tree"
  ( cd "$work/src"
    ls kubernetes_*.orig.tar.gz >/dev/null 2>&1 || apt-get source -q --download-only "kubernetes=$deb_version" >&2
    rm -rf extract && mkdir extract
    dpkg-source --no-check -x "kubernetes_$deb_version.dsc" extract/kubernetes >&2 )
  mv "$work/src/extract/kubernetes" "$tree"
  # Debian's Go 1.19 makes v1.20's reflect2 v1.0.1 segfault as soon as a CRD is created;
  # v1.0.2 (packaged by Debian) is API-compatible.
  rm -rf "$tree/vendor/github.com/modern-go/reflect2"
  cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
  touch "$tree/.hostplane-prepared"
fi

gopath="$work/.go"
mkdir -p "$gopath/src/k8s.io"
ln -sfn "$tree" "$gopath/src/k8s.io/kubernetes"
( cd "$gopath/src/k8s.io/kubernetes"
  GOPATH="$gopath" CGO_ENABLED=0 GOFLAGS=-mod=vendor GO111MODULE=on \
    make WHAT="cmd/kube-apiserver cmd/kubectl" >&2 )

mkdir -p "$assets"
for b in kube-apiserver kubectl; do
  cp "$tree/_output/local/bin/linux/amd64/$b" "$assets/$b" 2>/dev/null || cp "$tree/_output/bin/$b" "$assets/$b"
done
ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$assets/etcd"
has_all "$assets" || { log "build finished but binaries are missing in $assets"; exit 2; }
log "built: $assets"
echo "$assets"
