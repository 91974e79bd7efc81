#!/usr/bin/env bash
# Runs a command against a real 3-member etcd cluster (Debian etcd-server)
# on loopback ports, exported as SKIFF_TEST_ETCD_SERVERS and
# SKIFF_TEST_ETCD_DIR. The cluster and its data are removed afterwards.
set -euo pipefail
command -v etcd >/dev/null || { echo "etcd not installed (make deps)" >&2; exit 1; }
dir=$(mktemp -d /tmp/skiff-etcd-cluster.XXXXXX)
base=${SKIFF_ETCD_BASE_PORT:-23790}
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # Members a test restarted are not our children: find them by data dir.
  pkill -f -- "--data-dir $dir/" 2>/dev/null || true
  sleep 0.2
  rm -rf "$dir"
}
trap cleanup EXIT
initial=""
for i in 0 1 2; do
  initial+="m$i=http://127.0.0.1:$((base + 10 + i)),"
done
initial=${initial%,}
endpoints=""
for i in 0 1 2; do
  client=http://127.0.0.1:$((base + i)); peer=http://127.0.0.1:$((base + 10 + i))
  mkdir -p "$dir/m$i"
  # m<i>.cmd (re)starts the member; tests that stop a member run it to
  # bring the member back, and write its new pid to m<i>.pid.
  cat > "$dir/m$i.cmd" <<CMD
exec etcd --name m$i --data-dir $dir/m$i/ \
  --listen-client-urls $client --advertise-client-urls $client \
  --listen-peer-urls $peer --initial-advertise-peer-urls $peer \
  --initial-cluster $initial --initial-cluster-state new --initial-cluster-token skiff-test \
  --log-level error >>$dir/m$i.log 2>&1
CMD
  bash "$dir/m$i.cmd" &
  pids+=($!)
  echo "$!" > "$dir/m$i.pid"
  endpoints+="$client,"
done
endpoints=${endpoints%,}
for _ in $(seq 1 100); do
  if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health >/dev/null 2>&1; then break; fi
  sleep 0.1
done
ETCDCTL_API=3 etcdctl --endpoints "$endpoints" endpoint health
export SKIFF_TEST_ETCD_SERVERS=$endpoints SKIFF_TEST_ETCD_DIR=$dir
"$@"
