#!/usr/bin/env bash
# Start-up cost of the CLIs and the agent (issue 10: <= 50 ms wall per dfpub/dfget process of a 10 KiB
# file on loopback). Starts its own dfbroker and dfagent (plain text: --insecure) on loopback ports chosen by the OS, then:
#   dfpub FILE --topic T (a fresh 10 KiB file each time) against the running agent,
#   dfget sha256:... -O F (a 10 KiB file the agent holds) against the running agent,
#   dfget of the same with no agent at the data dir (a one-shot dfagent child; needs --broker),
#   dfagent start -> its 'dfagent ready' line (agent-ready.py),
# with hyperfine (apt-get install -y hyperfine): mean/median wall, and user+system CPU per process.
# Usage: bench/Dragonfly.PubSub.Bench/Startup/measure-startup.sh [RUNS] [OUT.json-prefix]
# By default it measures the build outputs (bin/Release/net10.0, JIT); DFPUB, DFGET, DFAGENT (and DFBROKER)
# name other executables, e.g. published ones:
#   dotnet publish -c Release agent/Dragonfly.PubSub.Publish -o /tmp/pub/dfpub   (Native AOT: needs clang, zlib1g-dev)
#   dotnet publish -c Release agent/Dragonfly.PubSub.Get -o /tmp/pub/dfget       (Native AOT; finds dfagent via DFGET_AGENT)
#   dotnet publish -c Release agent/Dragonfly.PubSub.Agent -o /tmp/pub/dfagent   (Native AOT)
#   dotnet publish -c Release broker/Dragonfly.PubSub.Broker -o /tmp/pub/dfbroker (Native AOT)
#   DFPUB=/tmp/pub/dfpub/dfpub DFGET=/tmp/pub/dfget/dfget DFAGENT=/tmp/pub/dfagent/dfagent measure-startup.sh
# Stops what it started by PID; everything lives in a temp folder that is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs=${1:-20}
out=${2:-}
bin() { echo "$PWD/$1/bin/Release/net10.0/$2"; }
dfbroker=${DFBROKER:-$(bin broker/Dragonfly.PubSub.Broker dfbroker)}
dfagent=${DFAGENT:-$(bin agent/Dragonfly.PubSub.Agent dfagent)}
dfpub=${DFPUB:-$(bin agent/Dragonfly.PubSub.Publish dfpub)}
dfget=${DFGET:-$(bin agent/Dragonfly.PubSub.Get dfget)}
echo "dfbroker $dfbroker"; echo "dfagent $dfagent"; echo "dfpub $dfpub"; echo "dfget $dfget"
command -v hyperfine >/dev/null || { echo "measure-startup.sh: needs hyperfine: apt-get install -y hyperfine" >&2; exit 2; }

work=$(mktemp -d /tmp/dfstartup.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$dfbroker" --insecure --data-dir "$work/broker" --listen 127.0.0.1 --mqtt-port 0 --grpc-port 0 --http-port 0 --seed-port 0 >"$work/broker.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do [ -s "$work/broker/broker.json" ] && break; sleep 0.1; done
grpc=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['grpcPort'])" "$work/broker/broker.json")
mqtt=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['mqttPort'])" "$work/broker/broker.json")
"$dfagent" --insecure --broker "127.0.0.1:$grpc" --mqtt "127.0.0.1:$mqtt" --data-dir "$work/agent" --listen 127.0.0.1 \
  --peer-port 0 --proxy-port 0 --http-port 0 >"$work/agent.log" 2>&1 &
pids+=($!)
for _ in $(seq 600); do grep -q "^dfagent ready" "$work/agent.log" 2>/dev/null && break; sleep 0.1; done

head -c 10240 /dev/urandom >"$work/held.bin"
digest=$("$dfpub" "$work/held.bin" --topic bench/startup --data-dir "$work/agent" | tail -1)
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); agent holds $digest"

export_args=()
[ -n "$out" ] && export_args=(--export-json "$out-hyperfine.json")
# One --prepare per command, in the commands' order (hyperfine pairs them by position).
hyperfine -N --warmup 3 --runs "$runs" "${export_args[@]}" \
  --prepare "sh -c 'head -c 10240 /dev/urandom >$work/fresh.bin'" \
  --prepare "rm -f $work/got.bin" \
  --prepare "rm -rf $work/oneshot $work/got1.bin" \
  --prepare "true" \
  --prepare "true" \
  -n "dfpub 10KiB (running agent)" "$dfpub $work/fresh.bin --topic bench/startup --data-dir $work/agent" \
  -n "dfget 10KiB (running agent)" "$dfget $digest -O $work/got.bin --data-dir $work/agent" \
  -n "dfget 10KiB (one-shot agent)" "$dfget $digest -O $work/got1.bin --data-dir $work/oneshot --broker 127.0.0.1:$grpc --insecure" \
  -n "dfpub --help" "$dfpub --help" \
  -n "dfget --help" "$dfget --help"
python3 "$(dirname "$0")/agent-ready.py" "$dfagent" "$grpc" "$mqtt" "$work" 5
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
