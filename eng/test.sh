#!/usr/bin/env bash
# Runs every test of Dragonfly.PubSub on a fresh machine that has the .NET SDK:
# installs the Debian packages the tests use when they are missing, restores and builds the
# solution, runs `dotnet test`, and ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Real third-party components the integration tests start or call.
declare -A packages=(
  [mosquitto_pub]=mosquitto-clients   # a foreign MQTT client publishing malformed announcements
)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "eng/test.sh: the tests need ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "eng/test.sh: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

configuration=Release
dotnet build Dragonfly.PubSub.sln -c "$configuration" -nologo -v quiet

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
set +e
dotnet test Dragonfly.PubSub.sln -c "$configuration" --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  --blame-hang-timeout 15m
status=$?
set -e

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner itself failed (a crash or a hang): count it so the summary cannot read as green.
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
