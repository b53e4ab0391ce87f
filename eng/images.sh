#!/usr/bin/env bash
# Builds the container images of Dragonfly.PubSub without Docker and pushes them with skopeo:
#   dfbroker  /opt/dragonfly/dfbroker
#   dfagent   /opt/dragonfly/dfagent, with dfpub and dfget beside it
# each one OCI image index with a linux/amd64 and a linux/arm64 image. An image is two layers:
#   1. a minimal root filesystem from Debian packages of the image's architecture (glibc, libgcc,
#      libstdc++, OpenSSL, CA certificates; no ICU: the programs run with invariant globalization),
#      with a user 'dragonfly' (uid/gid 65532) the image runs as; the same layer in both images;
#   2. the programs: dfbroker, dfagent, dfpub and dfget Native AOT executables where a linker for the
#      architecture is installed (else self-contained ReadyToRun publishes per runtime identifier, the
#      .NET runtime with them; dfpub and dfget beside dfagent).
# Layers are reproducible: sorted, root-owned, every time stamp the commit's (SOURCE_DATE_EPOCH).
#
# Usage: eng/images.sh --registry HOST[:PORT][/PATH] [--tag TAG] [--version V] [--source URL]
#                      [--platforms linux/amd64,linux/arm64] [--out DIR] [--no-push] [--reuse-publish]
#                      [--arm64-aot auto|on|off]
# --reuse-publish takes the programs an earlier run left in --out (to rebuild only the base or push again).
# Pushes HOST[:PORT][/PATH]/dfbroker:TAG and .../dfagent:TAG (TLS verification off for a loopback
# registry only). Needs root the first time (dpkg --add-architecture arm64, apt-get update), the
# .NET SDK, skopeo, clang (Native AOT) and, for arm64 AOT, gcc-aarch64-linux-gnu.
# Exit codes: 0 pushed (or built, with --no-push), 1 a step failed, 2 bad usage.
set -euo pipefail
# Every file and folder the image gets is readable by its user, whatever the caller's umask.
umask 022
export LC_ALL=C   # byte order for every sort, a '.' in every number

repo=$(cd "$(dirname "$0")/.." && pwd)
started=$(date +%s)
usage="usage: eng/images.sh --registry HOST[:PORT][/PATH] [--tag TAG] [--version V] [--source URL] [--platforms linux/amd64,linux/arm64] [--out DIR] [--no-push] [--reuse-publish] [--arm64-aot auto|on|off]"

log() { printf 'images.sh: %s\n' "$*" >&2; }
fail() { printf 'images.sh: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'images.sh: %s\n%s\n' "$1" "$usage" >&2; exit 2; }

# The image user: the conventional 'nonroot' id of minimal images, named in the image's /etc/passwd.
readonly user_id=65532 user_name=dragonfly
readonly components=(dfbroker dfagent)
# Debian packages of the base layer. zlib1g is not among them: .NET 9+ carries zlib-ng in
# System.IO.Compression.Native; the check after assembling fails if any library is missing.
readonly base_packages=(libc6 libgcc-s1 libstdc++6 libssl3)
readonly base_packages_all=(ca-certificates)   # Architecture: all

registry="" tag="" version="" source_url="" platforms="linux/amd64,linux/arm64" out="$repo/artifacts/images"
push=1 arm64_aot=auto reuse_publish=0
while (($#)); do
  case "$1" in
    --registry | --tag | --version | --source | --platforms | --out | --arm64-aot)
      (($# >= 2)) || usage_error "$1 needs a value"
      case "$1" in
        --registry) registry=$2 ;; --tag) tag=$2 ;; --version) version=$2 ;; --source) source_url=$2 ;;
        --platforms) platforms=$2 ;; --out) out=$2 ;; --arm64-aot) arm64_aot=$2 ;;
      esac
      shift 2 ;;
    --no-push) push=0; shift ;;
    --reuse-publish) reuse_publish=1; shift ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) usage_error "unknown argument '$1'" ;;
  esac
done

if [ -z "$version" ]; then
  version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props" | head -n 1)
fi
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.][0-9A-Za-z.-]+)?$ ]] || usage_error "--version '$version' is not a version like 1.2.3 or 1.2.3-rc.1"
tag=${tag:-$version}
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "--tag '$tag' is not a valid image tag (letters, digits, '_', '.', '-'; at most 128)"
case "$arm64_aot" in auto | on | off) ;; *) usage_error "--arm64-aot must be auto, on or off, not '$arm64_aot'" ;; esac
if ((push)); then
  [ -n "$registry" ] || usage_error "--registry is required (or --no-push to only build)"
  [[ "$registry" =~ ^[A-Za-z0-9.:_-]+(/[a-z0-9._-]+)*$ ]] || usage_error "--registry '$registry' is not HOST[:PORT][/PATH] (lower-case path)"
fi
if [ -z "$source_url" ]; then
  source_url=$(git -C "$repo" remote get-url origin 2>/dev/null || true)
  [ -n "$source_url" ] || usage_error "this checkout has no remote 'origin': name the source repository with --source URL"
fi
[[ "$source_url" =~ ^[A-Za-z0-9+.:/@_~%-]+$ ]] || usage_error "--source '$source_url' is not a plain URL"

declare -a wanted=()
IFS=, read -r -a requested <<<"$platforms"
for platform in "${requested[@]}"; do
  case "$platform" in
    linux/amd64 | linux/arm64) wanted+=("${platform#linux/}") ;;
    *) usage_error "unknown platform '$platform' (linux/amd64, linux/arm64)" ;;
  esac
done
((${#wanted[@]})) || usage_error "--platforms names no platform"

rid_of() { case "$1" in amd64) echo linux-x64 ;; arm64) echo linux-arm64 ;; esac; }
triplet_of() { case "$1" in amd64) echo x86_64-linux-gnu ;; arm64) echo aarch64-linux-gnu ;; esac; }

# ---- tools -----------------------------------------------------------------------------------
missing=()
for tool in dotnet dpkg dpkg-deb apt-get apt-cache tar gzip sha256sum readelf git clang; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
((push)) && { command -v skopeo >/dev/null 2>&1 || missing+=(skopeo); }
((${#missing[@]} == 0)) || fail "missing ${missing[*]}: install them (apt-get install skopeo clang binutils; the .NET SDK for dotnet) and run again"

native_arch=$(dpkg --print-architecture)
aot_for() {
  # Native AOT needs a linker for the target: clang itself for the machine's own architecture,
  # binutils and a C runtime for aarch64 (Debian's gcc-aarch64-linux-gnu) to cross-link.
  local arch=$1
  [ "$arch" = "$native_arch" ] && return 0
  [ "$arch" = arm64 ] || return 1
  case "$arm64_aot" in
    off) return 1 ;;
    on) command -v aarch64-linux-gnu-ld >/dev/null 2>&1 || fail "--arm64-aot on needs aarch64-linux-gnu-ld and a C runtime for arm64: apt-get install gcc-aarch64-linux-gnu"; return 0 ;;
    auto) command -v aarch64-linux-gnu-ld >/dev/null 2>&1 && [ -e /usr/aarch64-linux-gnu/lib/crt1.o ] ;;
  esac
}

# Time stamps and labels: the commit's, so two builds of one commit give the same layers.
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  log "the work tree has uncommitted changes: the images are labelled with $revision but hold them"
fi
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")

mkdir -p "$out"
out=$(cd "$out" && pwd)
# This script deletes its staging folders: never one with something mounted inside (a test's chroot).
refuse_if_mounted() {
  if awk -v dir="$1/" 'index($5 "/", dir) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    fail "$1 has file systems mounted inside it: unmount them first (nothing was deleted)"
  fi
}
refuse_if_mounted "$out"

# ---- 1. publish the programs per runtime identifier --------------------------------------------
publish() {
  # publish PROJECT RID OUTPUT EXTRA...: a separate artifacts path, so the checkout's own bin/obj
  # (what the tests run) are left alone; no build servers left running afterwards.
  local project=$1 rid=$2 output=$3
  shift 3
  log "dotnet publish $project -r $rid $* ($(($(date +%s) - started)) s)"
  dotnet publish "$repo/$project" -c Release -r "$rid" --self-contained -o "$output" \
    --artifacts-path "$out/build" --disable-build-servers -nologo -v quiet \
    -p:Version="$version" -p:SatelliteResourceLanguages=en "$@" >"$out/publish.log" 2>&1 \
    || { tail -n 40 "$out/publish.log" >&2; fail "dotnet publish $project -r $rid failed (log: $out/publish.log)"; }
}

declare -A tools_kind=()
for arch in "${wanted[@]}"; do
  rid=$(rid_of "$arch")
  dir="$out/publish/$rid"
  if ((reuse_publish)) && [ -s "$dir/kind" ]; then
    tools_kind[$arch]=$(cat "$dir/kind")
    log "reusing the programs in $dir"
    continue
  fi
  rm -rf "$dir"
  # Native AOT is the projects' own setting (PublishAot): a -p:PublishAot=true on the command line would
  # reach the libraries too (it turns the AOT analyzers on for all of them); turning it off there is harmless.
  if aot_for "$arch"; then
    tools_kind[$arch]="Native AOT"
    publish broker/Dragonfly.PubSub.Broker "$rid" "$dir/dfbroker"
    publish agent/Dragonfly.PubSub.Agent "$rid" "$dir/dfagent"
    for tool in Publish:dfpub Get:dfget; do
      publish "agent/Dragonfly.PubSub.${tool%%:*}" "$rid" "$dir/aot"
      cp "$dir/aot/${tool#*:}" "$dir/dfagent/"
    done
    rm -rf "$dir/aot"
  else
    tools_kind[$arch]="self-contained ReadyToRun (no linker for $arch Native AOT)"
    publish broker/Dragonfly.PubSub.Broker "$rid" "$dir/dfbroker" -p:PublishAot=false -p:PublishReadyToRun=true
    # dfpub and dfget self-contained into dfagent's folder: the same runtime files, shared.
    for project in Agent Publish Get; do
      publish "agent/Dragonfly.PubSub.$project" "$rid" "$dir/dfagent" -p:PublishAot=false -p:PublishReadyToRun=true
    done
  fi
  # Symbols stay out of the image; so does the LTTng trace provider, which needs liblttng-ust (not in
  # the image) and which the runtime loads only if present. Files readable, programs runnable by the user.
  find "$dir" \( -name '*.pdb' -o -name '*.dbg' -o -name libcoreclrtraceptprovider.so \) -delete
  chmod -R u=rwX,go=rX "$dir"
  echo "${tools_kind[$arch]}" >"$dir/kind"
done

# ---- 2. a root filesystem per architecture from Debian packages ---------------------------------
ensure_architecture() {
  local arch=$1
  if [ "$arch" != "$native_arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    [ "$(id -u)" -eq 0 ] || fail "the $arch packages need 'dpkg --add-architecture $arch && apt-get update' as root first"
    log "dpkg --add-architecture $arch"
    dpkg --add-architecture "$arch"
  fi
  if ! apt-cache show "libc6:$arch" >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || fail "apt knows no $arch packages yet: run 'apt-get update' as root first"
    log "apt-get update (package lists for $arch)"
    apt-get -o DPkg::Lock::Timeout=300 update -qq
  fi
}

assemble_rootfs() {
  local arch=$1 root=$2 debs="$out/debs/$1" triplet
  triplet=$(triplet_of "$arch")
  ensure_architecture "$arch"
  rm -rf "$debs" "$root"
  mkdir -p "$debs" "$root"
  # Downloads only (no install): the files are unpacked below, no maintainer script runs.
  (cd "$debs" && apt-get -o APT::Sandbox::User=root download -qq "${base_packages[@]/%/:$arch}" "${base_packages_all[@]}" >/dev/null) \
    || fail "apt-get download ${base_packages[*]} ${base_packages_all[*]} for $arch failed"
  mkdir -p "$root/var/lib/dpkg/status.d"
  rm -f "$out/packages-$arch.txt.tmp"
  local deb name
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$root"
    name=$(dpkg-deb -f "$deb" Package)
    # What scanners read in distroless-style images: one control file per installed package.
    { dpkg-deb -f "$deb"; echo "Status: install ok installed"; } >"$root/var/lib/dpkg/status.d/$name"
    printf '%s=%s ' "$name" "$(dpkg-deb -f "$deb" Version)" >>"$out/packages-$arch.txt.tmp"
  done
  mv "$out/packages-$arch.txt.tmp" "$out/packages-$arch.txt"

  # Merged /usr, as a Debian 12 system has it: /lib, /bin, /sbin are links into /usr.
  local d
  for d in bin sbin lib lib64; do
    [ "$d" != lib64 ] || [ -d "$root/lib64" ] || continue   # only amd64 has /lib64 (its dynamic loader)
    mkdir -p "$root/usr/$d"
    if [ -d "$root/$d" ] && [ ! -L "$root/$d" ]; then
      cp -a "$root/$d/." "$root/usr/$d/"
      rm -rf "${root:?}/$d"
    fi
    ln -s "usr/$d" "$root/$d"
  done

  # What a program never reads: documentation (the copyright files stay), gconv, locales, gdb scripts.
  if [ -d "$root/usr/share/doc" ]; then
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  fi
  rm -rf "$root"/usr/share/{man,info,lintian,locale,gdb,gcc,bug} "$root/usr/lib/$triplet/gconv" "$root"/usr/share/doc-base

  # CA certificates: the bundle update-ca-certificates would write, where OpenSSL looks for it.
  mkdir -p "$root/etc/ssl/certs" "$root/usr/lib/ssl"
  find "$root/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | while read -r crt; do
    cat "$crt"
    [ -z "$(tail -c 1 "$crt")" ] || echo
  done >"$root/etc/ssl/certs/ca-certificates.crt"
  [ -s "$root/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates in the ca-certificates package"
  [ -e "$root/usr/lib/ssl/certs" ] || ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
  [ -e "$root/usr/lib/ssl/cert.pem" ] || ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"

  # Users, name service, the OS it is, and the folders a program writes.
  cat >"$root/etc/passwd" <<END
root:x:0:0:root:/root:/usr/sbin/nologin
$user_name:x:$user_id:$user_id:Dragonfly.PubSub:/var/lib/dragonfly:/usr/sbin/nologin
END
  cat >"$root/etc/group" <<END
root:x:0:
$user_name:x:$user_id:
END
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
  cp -L /etc/os-release "$root/usr/lib/os-release"
  ln -sf ../usr/lib/os-release "$root/etc/os-release"
  # Mount points a runtime fills (proc, sys, dev), as base images carry them.
  mkdir -p "$root/tmp" "$root/root" "$root/var/lib/dragonfly" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  chmod 0755 "$root/var/lib/dragonfly"
}

# Every library an executable or runtime library of the image links, and the OpenSSL libraries
# .NET loads at run time, must be in the image: a missing one would fail only when it runs.
check_libraries() {
  local arch=$1 root=$2 app=$3 triplet missing="" lib needed
  triplet=$(triplet_of "$arch")
  # readelf fails on the files that are not ELF (scripts, data): only its NEEDED lines count.
  needed=$( { { find "$app" -type f \( -perm -u+x -o -name '*.so' \) -print0 | xargs -0 readelf -d 2>/dev/null || true; } \
    | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; echo libssl.so.3; echo libcrypto.so.3; } | sort -u)
  for lib in $needed; do
    [ -e "$app/$lib" ] || [ -e "$root/usr/lib/$triplet/$lib" ] || [ -e "$root/usr/lib/$lib" ] || missing+=" $lib"
  done
  [ -z "$missing" ] || fail "the $arch image lacks$missing (needed by $app): add its Debian package to base_packages"
}

# ---- 3. layers, image configs, manifests, indexes ----------------------------------------------
tar_flags=(--sort=name --mtime="@$epoch" --numeric-owner --format=posix
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
sha256() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# make_layer DIR NAME [USER_OWNED_PATH]: DIR's tree as a gzip'd tar, root-owned except the one path
# given (owned by the image user); sets layer_file, layer_digest, layer_diff_id, layer_size, layer_raw_size.
make_layer() {
  local dir=$1 name=$2 owned=${3:-} tarfile="$out/layers/$2.tar"
  mkdir -p "$out/layers"
  if [ -n "$owned" ]; then
    tar -C "$dir" "${tar_flags[@]}" --owner=0 --group=0 --exclude="./$owned" -cf "$tarfile" .
    tar -C "$dir" "${tar_flags[@]}" --owner="$user_id" --group="$user_id" -rf "$tarfile" "./$owned"
  else
    tar -C "$dir" "${tar_flags[@]}" --owner=0 --group=0 -cf "$tarfile" .
  fi
  layer_diff_id=$(sha256 "$tarfile")
  layer_raw_size=$(size_of "$tarfile")
  gzip -n -6 -f "$tarfile"
  layer_file="$tarfile.gz"
  layer_digest=$(sha256 "$layer_file")
  layer_size=$(size_of "$layer_file")
}

# add_blob LAYOUT FILE: stores FILE under its digest in the OCI layout.
add_blob() {
  local digest
  digest=$(sha256 "$2")
  mkdir -p "$1/blobs/sha256"
  ln -f "$2" "$1/blobs/sha256/$digest" 2>/dev/null || cp "$2" "$1/blobs/sha256/$digest"
}

# write_json LAYOUT TEXT: stores TEXT (no newline) as a blob; sets json_digest and json_size.
write_json() {
  local file
  file=$(mktemp "$out/layers/json.XXXXXX")
  printf '%s' "$2" >"$file"
  json_digest=$(sha256 "$file")
  json_size=$(size_of "$file")
  add_blob "$1" "$file"
  rm -f "$file"
}

annotations() {
  # annotations COMPONENT: the OCI annotations (and labels) every image, manifest and index carries.
  local title=$1 description
  case "$title" in
    dfbroker) description="Dragonfly.PubSub broker: scheduler, MQTT announcements, HTTP API, seed peer" ;;
    dfagent) description="Dragonfly.PubSub agent (dfagent) with dfpub and dfget" ;;
  esac
  printf '{"org.opencontainers.image.created":"%s","org.opencontainers.image.description":"%s","org.opencontainers.image.revision":"%s","org.opencontainers.image.source":"%s","org.opencontainers.image.title":"%s","org.opencontainers.image.version":"%s"}' \
    "$created" "$description" "$revision" "$source_url" "$title" "$version"
}

env_of() {
  local base='"PATH=/opt/dragonfly:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","HOME=/var/lib/dragonfly"'
  case "$1" in
    dfbroker) printf '%s,"DFBROKER_DATA_DIR=/var/lib/dragonfly/broker"' "$base" ;;
    dfagent) printf '%s,"DRAGONFLY_DATA_DIR=/var/lib/dragonfly/agent"' "$base" ;;
  esac
}

ports_of() {
  case "$1" in
    dfbroker) printf '{"8883/tcp":{},"8002/tcp":{},"8080/tcp":{},"8003/tcp":{}}' ;;
    dfagent) printf '{"4000/tcp":{}}' ;;
  esac
}

declare -A manifest_entries=() summary=()
for component in "${components[@]}"; do
  layout="$out/oci/$component"
  refuse_if_mounted "$layout"
  rm -rf "$layout"
  mkdir -p "$layout"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
done

for arch in "${wanted[@]}"; do
  rid=$(rid_of "$arch")
  root="$out/rootfs/$arch"
  refuse_if_mounted "$root"
  log "root filesystem for $arch ($(($(date +%s) - started)) s) from Debian $suite: ${base_packages[*]} ${base_packages_all[*]}"
  assemble_rootfs "$arch" "$root"
  make_layer "$root" "base-$arch" var/lib/dragonfly
  base_file=$layer_file base_digest=$layer_digest base_diff_id=$layer_diff_id base_size=$layer_size base_raw=$layer_raw_size
  packages=$(cat "$out/packages-$arch.txt")

  for component in "${components[@]}"; do
    layout="$out/oci/$component"
    app="$out/app/$component-$arch"
    rm -rf "$app"
    mkdir -p "$app/opt"
    cp -a "$out/publish/$rid/$component" "$app/opt/dragonfly"
    check_libraries "$arch" "$root" "$app/opt/dragonfly"
    make_layer "$app" "$component-$arch"
    add_blob "$layout" "$base_file"
    add_blob "$layout" "$layer_file"

    programs="$component ${tools_kind[$arch]}"
    [ "$component" = dfagent ] && programs="dfagent, dfpub and dfget ${tools_kind[$arch]}"
    variant=""
    [ "$arch" = arm64 ] && variant=',"variant":"v8"'
    config=$(printf '{"created":"%s","architecture":"%s"%s,"os":"linux","config":{"User":"%s:%s","ExposedPorts":%s,"Env":[%s],"Entrypoint":["/opt/dragonfly/%s"],"WorkingDir":"/var/lib/dragonfly","Labels":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s","sha256:%s"]},"history":[{"created":"%s","created_by":"eng/images.sh: Debian %s packages %s(%s)"},{"created":"%s","created_by":"eng/images.sh: dotnet publish -r %s --self-contained: %s"}]}' \
      "$created" "$arch" "$variant" "$user_id" "$user_id" "$(ports_of "$component")" "$(env_of "$component")" "$component" \
      "$(annotations "$component")" "$base_diff_id" "$layer_diff_id" "$created" "$suite" "$packages" "$arch" "$created" "$rid" "$programs")
    write_json "$layout" "$config"
    manifest=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s},{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}],"annotations":%s}' \
      "$json_digest" "$json_size" "$base_digest" "$base_size" "$layer_digest" "$layer_size" "$(annotations "$component")")
    config_size=$json_size
    write_json "$layout" "$manifest"
    entry=$(printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"%s}}' \
      "$json_digest" "$json_size" "$arch" "$variant")
    manifest_entries[$component]="${manifest_entries[$component]:+${manifest_entries[$component]},}$entry"
    compressed=$((base_size + layer_size + config_size))
    unpacked=$((base_raw + layer_raw_size))
    note="; ${tools_kind[$arch]}"
    [ "$component" = dfagent ] && note="; dfagent, dfpub and dfget ${tools_kind[$arch]}"
    summary[$component]+=$(awk -v arch="$arch" -v c="$compressed" -v u="$unpacked" -v b="$base_raw" -v p="$layer_raw_size" -v note="$note" \
      'BEGIN { m = 1048576; printf "  linux/%-6s %6.1f MiB compressed, %6.1f MiB unpacked (base %.1f MiB, programs %.1f MiB)%s", arch, c / m, u / m, b / m, p / m, note }')$'\n'
    rm -f "$layer_file"
  done
  rm -f "$base_file"
done

declare -A index_digests=()
for component in "${components[@]}"; do
  layout="$out/oci/$component"
  index=$(printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s],"annotations":%s}' \
    "${manifest_entries[$component]}" "$(annotations "$component")")
  write_json "$layout" "$index"
  index_digests[$component]=$json_digest
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$json_digest" "$json_size" "$tag" >"$layout/index.json"
done
rm -rf "$out/layers" "$out/app"

# ---- 4. push -----------------------------------------------------------------------------------
host=${registry%%/*}
host_only=${host%:*}
tls=()
case "$host_only" in
  localhost | 127.*) tls=(--dest-tls-verify=false) ;;   # a loopback registry speaks plain HTTP
esac
for component in "${components[@]}"; do
  if ((push)); then
    destination="docker://$registry/$component:$tag"
    log "($(($(date +%s) - started)) s) skopeo copy --all oci:$out/oci/$component:$tag $destination"
    # --insecure-policy: the source is this script's own output, not an image to be trusted.
    skopeo --insecure-policy copy --all --preserve-digests --retry-times 2 "${tls[@]}" \
      "oci:$out/oci/$component:$tag" "$destination" >"$out/skopeo.log" 2>&1 \
      || { cat "$out/skopeo.log" >&2; fail "skopeo could not push $component to $registry (log above)"; }
    echo "pushed $registry/$component:$tag@sha256:${index_digests[$component]}"
  else
    echo "built oci:$out/oci/$component:$tag (index sha256:${index_digests[$component]})"
  fi
  printf '%s' "${summary[$component]}"
done
echo "version $version, revision $revision, created $created; $(($(date +%s) - started)) s"
