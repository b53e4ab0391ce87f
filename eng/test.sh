#!/usr/bin/env bash
# Runs every test of Dragonfly.PubSub on a fresh machine that has the .NET SDK:
# installs the Debian packages the tests use when they are missing, restores and builds the
# solution, runs `dotnet test`, and ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Real third-party components the integration tests start or call.
# A key is a command on PATH or, for packages without one, a path the package installs.
declare -A packages=(
  [mosquitto_pub]=mosquitto-clients   # a foreign MQTT client publishing malformed announcements
  [/usr/sbin/mosquitto]=mosquitto     # an MQTT 5 broker the operator runs (dfbroker --mqtt-url), and the path replayed announcements take
  [/usr/sbin/nginx]=nginx             # HTTP/HTTPS origin for the origin tests
  [redis-server]=redis-server         # the shared state of several brokers (dfbroker --state redis://... or redis-sentinel://...; also Sentinel and redis-cli)
  [/usr/lib/python3/dist-packages/pyftpdlib]=python3-pyftpdlib   # FTP origin (run with /usr/bin/python3)
  [node]=nodejs                       # runs s3rver, the S3 origin
  [npm]=npm                           # installs s3rver below
  [docker-registry]=docker-registry   # CNCF Distribution: the registry of the image tests
  [skopeo]=skopeo                     # pushes the test images and pulls through the mirror
  [htpasswd]=apache2-utils            # bcrypt htpasswd for the registry with basic auth
  [curl]=curl                         # the direct baseline of the dfbench smoke tests
  [ip]=iproute2                       # network namespaces, veth and tc of the dfbench smoke tests
  [openssl]=openssl                   # s_client shows the negotiated TLS suites in the security tests
  [systemd-analyze]=systemd           # 'systemd-analyze verify' checks deploy/systemd's units
  [kubectl]=kubernetes-client         # 'kubectl kustomize' renders deploy/kubernetes's overlays
  [clang]=clang                       # links the Native AOT programs: dfagent below, dfpub and dfget in eng/images.sh
  [/usr/include/zlib.h]=zlib1g-dev    # the AOT toolchain's zlib headers
  [chromium]=chromium                 # headless browser of the dashboard test (Playwright drives it; no browser download)
  [aarch64-linux-gnu-gcc]=gcc-aarch64-linux-gnu   # eng/images.sh: cross-links the arm64 Native AOT programs
  [/usr/aarch64-linux-gnu/lib/crt1.o]=libc6-dev-arm64-cross   # ... with the arm64 C runtime (only recommended by gcc)
  [qemu-aarch64-static]=qemu-user-static          # runs the arm64 image's programs in a chroot (image tests)
)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -e "$cmd" ] || missing+=("${packages[$cmd]}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "eng/test.sh: the tests need ${missing[*]}; install them (sudo apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "eng/test.sh: installing ${missing[*]}"
  # Wait for another apt (unattended upgrades, a parallel job) rather than fail at once.
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# s3rver, an S3-compatible server from npm, into a git-ignored folder of the repo; the versions of
# it and of its dependencies are pinned by eng/s3rver/package-lock.json.
s3rver_dir=.tools/s3rver
if [ ! -f "$s3rver_dir/node_modules/s3rver/bin/s3rver.js" ] || ! cmp -s eng/s3rver/package-lock.json "$s3rver_dir/package-lock.json"; then
  echo "eng/test.sh: installing s3rver into $s3rver_dir"
  mkdir -p "$s3rver_dir"
  cp eng/s3rver/package.json eng/s3rver/package-lock.json "$s3rver_dir/"
  npm ci --prefix "$s3rver_dir" --no-audit --no-fund --loglevel=error >/dev/null
fi

configuration=Release
dotnet build Dragonfly.PubSub.sln -c "$configuration" -nologo -v quiet
# The dfagent users run is published as Native AOT; Swarm/NativeAgentTests runs this one (the rest the build).
dotnet publish agent/Dragonfly.PubSub.Agent -c "$configuration" -o .tools/native/dfagent -nologo -v quiet
# The container images: eng/images.sh publishes 8 programs (minutes), so that runs here, outside the test
# runner's hang timeout; Images/ContainerImageTests take these programs (--reuse-publish), build the images
# from them again and push them to a registry of their own. The arguments are the tests' (ContainerImages).
bash eng/images.sh --registry 127.0.0.1/unused --no-push --tag it --version 0.1.0-it \
  --source https://example.invalid/dragonfly-pubsub --out .tools/images

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
set +e
dotnet test Dragonfly.PubSub.sln -c "$configuration" --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results" \
  --blame-hang-timeout 15m
status=$?
# The integration suite once more with plain text everywhere (--insecure on every process): the
# upgrade path from an insecure fleet stays tested. Secure (TLS) is the default of the first run.
DFIT_INSECURE=1 dotnet test tests/Dragonfly.PubSub.IntegrationTests/Dragonfly.PubSub.IntegrationTests.csproj \
  -c "$configuration" --no-build -nologo \
  --logger "trx" --logger "console;verbosity=normal" --results-directory "$results/insecure" \
  --blame-hang-timeout 15m
insecure_status=$?
if [ "$status" -eq 0 ]; then status=$insecure_status; fi
set -e

passed=0
failed=0
for trx in "$results"/*.trx "$results"/insecure/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
# The failed tests by name with the first lines of their messages, so the end of a CI log says what broke.
for trx in "$results"/*.trx "$results"/insecure/*.trx; do
  [ -e "$trx" ] || continue
  awk '
    /<UnitTestResult / && /outcome="Failed"/ { match($0, /testName="[^"]*"/); name = substr($0, RSTART + 10, RLENGTH - 11); shown = 0; inside = 0; next }
    name != "" && /<Message>/ { inside = 1; printf "FAILED %s (%s)\n", name, FILENAME ~ /insecure/ ? "insecure" : "tls" }
    inside && shown < 6 { line = $0; gsub(/<\/?Message>/, "", line); sub(/^ +/, "", line); print "  " substr(line, 1, 300); shown++ }
    inside && /<\/Message>/ { inside = 0; name = "" }
  ' "$trx"
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The runner itself failed (a crash or a hang): count it so the summary cannot read as green.
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
