#!/usr/bin/env bash
# Where the convergence bench's CPU goes (issue 16): `perf record` over the whole bench run,
# its children included (kube-apiserver, etcd and whatever processes the bench starts), then
# the share of the samples per process and the top symbols of each.
#
#   scripts/profile.sh [SERVICES] [--top N]     (default 1000 services, 15 symbols a process)
#
# Needs `perf` (Debian's linux-perf; installed here when missing) and a kernel that lets root
# sample (perf_event_paranoid <= 2). Go binaries built without symbols (the locally built
# kube-apiserver) show addresses: their share is the figure to read. The controller and the
# simulator are both `hostplane` processes (threads named tokio-rt-worker): their symbols,
# `hostplane::controller::...` and `hostplane::simulator::...`, tell them apart.
set -euo pipefail
cd "$(dirname "$0")/.."
services=1000
top=15
while [ $# -gt 0 ]; do
  case "$1" in
    --top) top="$2"; shift 2 ;;
    *) services="$1"; shift ;;
  esac
done
if ! command -v perf >/dev/null; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-perf >&2
fi
KUBEBUILDER_ASSETS="$(scripts/kube-binaries.sh)"
export KUBEBUILDER_ASSETS
export HOSTPLANE_BENCH_STEADY_SECONDS="${HOSTPLANE_BENCH_STEADY_SECONDS:-5}"
bench=$(cargo bench --bench convergence --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "convergence" and m.get("executable"):
        print(m["executable"])')
out=$(mktemp -d)
echo "profile.sh: perf record of $bench $services (data in $out)" >&2
perf record -F 149 -g -o "$out/perf.data" -- "$bench" "$services" >"$out/bench.txt"
tail -n 1 "$out/bench.txt"
echo
echo "CPU samples per process (thread name, binary):"
perf report -i "$out/perf.data" --no-children --sort comm,dso -g none --stdio 2>/dev/null | grep '%'
for comm in $(perf report -i "$out/perf.data" --no-children --sort comm -g none --stdio 2>/dev/null |
  awk '/%/ && $1+0 >= 1 {print $2}'); do
  echo
  echo "top symbols of $comm (share of all samples):"
  perf report -i "$out/perf.data" --no-children --comm "$comm" --sort dso,sym -g none --stdio 2>/dev/null |
    grep '%' | head -n "$top"
done
