#!/usr/bin/env bash
# Publishing a large file: the time `dfpub FILE` takes until the broker has announced it, against one
# `sha256sum` pass and one `openssl dgst -sha256` pass over the same file, before and after it, in the same run (issue 10's target: dfpub
# within 1.2 x one SHA-256 pass). A plain-text broker and agent on loopback, started and stopped here.
#
#   bench/Dragonfly.PubSub.Bench/Publish/measure-publish.sh [SIZE_MIB=2048] [FILE]
#
# FILE defaults to a new random file under /tmp (the same filesystem as the agent's data dir, so dfpub
# links it into its store instead of copying it). Needs a Release build of the solution.
set -euo pipefail
cd "$(dirname "$0")/../../.."
size_mib=${1:-2048}
work=$(mktemp -d /tmp/dfbench-publish.XXXXXX)
file=${2:-$work/file.bin}
bin() { echo "$1/bin/Release/net10.0/$2"; }
broker_pid= agent_pid=
cleanup() {
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
[ -f "$file" ] || head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"

"$(bin broker/Dragonfly.PubSub.Broker dfbroker)" --insecure --data-dir "$work/broker" --listen 127.0.0.1 \
  --mqtt-port 0 --grpc-port 0 --http-port 0 --seed-port 0 > "$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 300); do grep -q "dfbroker ready" "$work/broker.log" && break; sleep 0.1; done
mqtt=$(grep -o "mqtt-port=[0-9]*" "$work/broker.log" | cut -d= -f2)
grpc=$(grep -o "grpc-port=[0-9]*" "$work/broker.log" | cut -d= -f2)
"$(bin agent/Dragonfly.PubSub.Agent dfagent)" --insecure --broker "127.0.0.1:$grpc" --mqtt "127.0.0.1:$mqtt" \
  --data-dir "$work/agent" --peer-port 0 --http-port 0 --proxy-port -1 > "$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 300); do grep -q "dfagent ready" "$work/agent.log" && break; sleep 0.1; done

cat "$file" > /dev/null   # the page cache holds the file for every measurement
echo "file $(du -h "$file" | cut -f1), load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "sha256sum  %e s wall, %U+%S CPU-s" sha256sum "$file" > /dev/null
# OpenSSL uses the CPU's SHA extensions where it has them, as .NET does; coreutils' sha256sum does not.
/usr/bin/time -f "openssl    %e s wall, %U+%S CPU-s (openssl dgst -sha256)" openssl dgst -sha256 "$file" > /dev/null
/usr/bin/time -f "dfpub      %e s wall until announced, %U+%S CPU-s in the CLI" \
  "$(bin agent/Dragonfly.PubSub.Publish dfpub)" "$file" --topic bench/publish --data-dir "$work/agent" > /dev/null
/usr/bin/time -f "sha256sum  %e s wall, %U+%S CPU-s" sha256sum "$file" > /dev/null
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
