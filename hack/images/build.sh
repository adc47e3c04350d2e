#!/usr/bin/env bash
# Builds Pulse's container images without a registry or a Docker engine, and writes each
# as a docker-archive tar into .pulse/images/, ready for `ctr -n k8s.io images import`:
#
#   pulse-operator.tar        pulse-operator:0.1.0        Dockerfile.operator
#   pulse-sidecar.tar         pulse-sidecar:0.1.0         Dockerfile.sidecar
#   pulse-demo-collector.tar  pulse-demo-collector:0.1.0  examples/apps/demo-collector
#   pulse-pause.tar           pulse-pause:1.0             hack/node/pause (sandbox)
#   prometheus.tar            prometheus:vX               .pulse/bin/prometheus (make tools)
#   alertmanager.tar          alertmanager:vX             .pulse/bin/alertmanager
#   prometheus-config-reloader.tar  prometheus-config-reloader:vX  .pulse/bin/...
#
# The last three hold one static binary each, the one `make tools` built from its pinned
# module, tagged with the version it reports: the images Prometheus Operator's StatefulSets
# name when a Prometheus and an Alertmanager run as pods on the real node.
#
# Each archive names its image as pod specs do (short, unqualified): containerd's import
# qualifies the name with its default registry, exactly as the kubelet's lookup does.
# No registry is reachable, so the base image the Dockerfiles name is made here: a Debian
# bookworm root filesystem from mmdebstrap (the mirror is read from this host's apt
# configuration), imported into podman as a local image of the Dockerfiles' FROM name
# (podman resolves an unqualified FROM to its local images first), so they build
# unchanged with --pull=never. NOTE: that local base carries Debian's python3
# (3.11.2), not the 3.11.14 its tag names; the tag is kept only so that FROM resolves.
#
# podman runs with its own storage under the cache below, never the host's default
# storage, with host networking (no bridge, no iptables rule) and cgroupfs; nothing stays
# mounted or running once this script ends (it checks). Every archive is keyed by a hash
# of its Dockerfile, the files it COPYs, this script and the base image's key, and kept
# in a per-user cache, so an unchanged image is copied in seconds and a change rebuilds
# only the images that depend on it. Needs root on Linux. Usage: build.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out_dir=$root/.pulse/images
tools_bin=$root/.pulse/bin
cache_root=${PULSE_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulse/images}
script_sum=$(sha256sum <"$here/build.sh" | cut -c1-64)

suite=bookworm
base_packages=(python3 python3-venv python-is-python3 ca-certificates)
base_ref=localhost/python:3.11.14-slim-bookworm
version=0.1.0
pause_version=1.0
keep_archives=3  # archives kept per image in the cache (other clones may use older ones)

say() { echo "make images: $*" >&2; }
die() { echo "make images: $*" >&2; exit 1; }

[[ $(uname -s) == Linux ]] || die "needs Linux (podman builds with runc and mmdebstrap makes the base image); this is $(uname -s)."
[[ $(id -u) -eq 0 ]] || die "needs root: podman keeps its own storage under $cache_root and mmdebstrap builds the base in root mode. Run: sudo make images"

missing_commands() {
  local cmd missing=()
  for cmd in mmdebstrap podman runc; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
  echo "${missing[*]}"
}
missing=$(missing_commands)
if [[ -n $missing ]]; then
  if [[ ${CI:-} == true ]]; then
    say "installing what is missing ($missing) with hack/node/install-deps.sh"
    "$root/hack/node/install-deps.sh"
    missing=$(missing_commands)
    [[ -z $missing ]] || die "still missing after hack/node/install-deps.sh: $missing"
  else
    die "missing: $missing. Install Debian's packages with: sudo hack/node/install-deps.sh (or install mmdebstrap, podman and runc by hand)"
  fi
fi
command -v go >/dev/null 2>&1 || die "Go is not installed; it builds the pause image's binary (hack/node/pause). Install Go 1.24 or newer."

mkdir -p "$out_dir" "$cache_root/archives"
exec 9>"$cache_root/.lock"
flock -n 9 || { say "another make images is using $cache_root; waiting for it"; flock 9; }

human() { numfmt --to=iec-i --suffix=B --format=%.1f "$1"; }
key_of() { sha256sum | cut -c1-16; }

# The host CA certificates the base image trusts: a TLS-intercepting proxy's CA lives here.
host_cas=()
for cert in /usr/local/share/ca-certificates/*.crt; do [[ -f $cert ]] && host_cas+=("$cert"); done

base_key=$(
  {
    echo "$suite ${base_packages[*]}"
    echo "$script_sum"
    if [[ ${#host_cas[@]} -gt 0 ]]; then cat "${host_cas[@]}"; fi
  } | key_of
)
base_tar=$cache_root/base-$base_key.tar

# --- podman with storage of its own; started on first use, torn down on exit ----------

storage=$cache_root/storage
# podman's database (in the storage) records the run and tmp directories: they must be the
# same on every run, so they are named after the storage, and runs take turns (flock).
run_dir=/run/pulse-images-$(echo -n "$storage" | sha256sum | cut -c1-12)
[[ -d /run && -w /run ]] || run_dir=/tmp/${run_dir#/run/}
podman_ready=false

pm() {
  podman --root "$storage" --runroot "$run_dir/storage" --storage-driver overlay \
    --cgroup-manager=cgroupfs --runtime=runc --events-backend=file --tmpdir "$run_dir/libpod" "$@"
}

podman_up() {
  $podman_ready && return 0
  rm -rf "$run_dir"
  mkdir -p "$storage" "$run_dir/storage" "$run_dir/libpod" "$run_dir/tmp" "$run_dir/networks"
  chmod 0700 "$run_dir"
  # Only these files are read, not the host's /etc/containers ones.
  cat >"$run_dir/containers.conf" <<EOF
[containers]
# root here lacks CAP_SYS_RESOURCE and the hard nofile limit is 20000: ask for no more.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$run_dir/events.log"
runtime = "runc"
tmp_dir = "$run_dir/libpod"
# Locks as files in tmp_dir (the default, shared memory, would outlive this script).
lock_type = "file"
image_copy_tmp_dir = "$run_dir/tmp"

[network]
network_config_dir = "$run_dir/networks"
EOF
  cat >"$run_dir/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$storage"
runroot = "$run_dir/storage"
EOF
  cat >"$run_dir/registries.conf" <<EOF
# No registry: every image comes from this storage (builds use --pull=never).
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
  export CONTAINERS_CONF=$run_dir/containers.conf
  export CONTAINERS_STORAGE_CONF=$run_dir/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$run_dir/registries.conf
  export TMPDIR=$run_dir/tmp
  podman_ready=true
}

# containers/image keeps its blob-info cache for root in /var/lib/containers/cache whatever
# the storage (podman has no option for it): remove that directory again if this run made it.
varlib_existed=false
[[ -e /var/lib/containers ]] && varlib_existed=true

leftover_mounts() {
  findmnt -rn -o TARGET | grep -F -e "$storage" -e "$run_dir" || true
}

podman_down() {
  $podman_ready || return 0
  podman_ready=false
  pm container rm --all --force >/dev/null 2>&1 || true
  pm image prune --force >/dev/null 2>&1 || true  # dangling layers of superseded builds
  local target pids problems=()
  # The overlay driver may leave its private bind mount of the storage directory behind.
  while read -r target; do
    [[ -n $target ]] && { umount "$target" 2>/dev/null || umount -l "$target" 2>/dev/null || true; }
  done < <(leftover_mounts | sort -r)
  [[ -z $(leftover_mounts) ]] || problems+=("still mounted: $(leftover_mounts | tr '\n' ' ')")
  # podman's and conmon's command lines all carry this run's private directory.
  pids=$(pgrep -f -- "$run_dir" || true)
  [[ -z $pids ]] || problems+=("still running: $(ps -o pid=,args= -p "${pids//$'\n'/,}" | tr '\n' ';')")
  rm -rf "$run_dir"
  if ! $varlib_existed && [[ -d /var/lib/containers ]] \
    && [[ -z $(find /var/lib/containers -mindepth 1 ! -path /var/lib/containers/cache ! -path '/var/lib/containers/cache/blob-info-cache-v1.boltdb*' -print -quit) ]]; then
    rm -rf /var/lib/containers
  fi
  if [[ ${#problems[@]} -gt 0 ]]; then
    say "WARNING: podman left something behind: ${problems[*]}"
    return 1
  fi
  say "podman is done: nothing mounted under $storage, no podman or conmon process left"
}

work=$(mktemp -d /tmp/pulse-images-work.XXXXXX)
cleanup() {
  local status=$?
  podman_down || status=1
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the base image -----------------------------------------------------------------

# One-line apt sources for $suite (and $suite-updates, $suite-security) from the host's
# own apt configuration, both formats, so no mirror is named anywhere in this repository.
host_sources() {
  local etc
  etc=$(apt-config shell d Dir::Etc/d 2>/dev/null | sed -n "s/^d='\(.*\)'$/\1/p")
  [[ -n $etc ]] || etc=/etc/apt/
  local files=() file
  [[ -f $etc/sources.list ]] && files+=("$etc/sources.list")
  for file in "$etc"/sources.list.d/*.list "$etc"/sources.list.d/*.sources; do
    [[ -f $file ]] && files+=("$file")
  done
  [[ ${#files[@]} -gt 0 ]] || return 0
  awk -v suite="$suite" '
    function wanted(s) { return s == suite || index(s, suite "-") == 1 }
    function emit(   n, m, u, s, ss, us, opt) {
      if (types !~ /(^| )deb( |$)/ || tolower(enabled) == "no") return
      opt = (signed != "" && signed !~ /-----BEGIN/) ? "[signed-by=" signed "] " : ""
      n = split(uris, us, " "); m = split(suites, ss, " ")
      for (u = 1; u <= n; u++) for (s = 1; s <= m; s++) if (wanted(ss[s])) print "deb " opt us[u] " " ss[s] " " comps
    }
    FNR == 1 { if (deb822) emit(); deb822 = FILENAME ~ /\.sources$/; types = uris = suites = comps = signed = enabled = "" }
    /^[[:space:]]*#/ { next }
    !deb822 {
      if ($1 != "deb") next
      i = 2; opt = ""
      if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { opt = opt " " $i; i++ } opt = opt " " $i; i++ }
      if (wanted($(i + 1))) { line = "deb"; for (j = 2; j <= NF; j++) line = line " " $j; print line }
      next
    }
    /^[[:space:]]*$/ { emit(); types = uris = suites = comps = signed = enabled = ""; next }
    /^[A-Za-z-]+:/ {
      field = tolower($1); sub(/:$/, "", field); value = $0; sub(/^[^:]*:[[:space:]]*/, "", value)
      if (field == "types") types = value; else if (field == "uris") uris = value
      else if (field == "suites") suites = value; else if (field == "components") comps = value
      else if (field == "signed-by") signed = value; else if (field == "enabled") enabled = value
    }
    END { if (deb822) emit() }
  ' "${files[@]}"
}

build_base() {
  local tmp sources start=$SECONDS valid_until check_date aptopts=() cas_dir include
  tmp=$(mktemp -d "$cache_root/.tmp-base-XXXXXX")
  sources=$work/sources.list
  host_sources >"$sources"
  [[ -s $sources ]] || die "no apt source for $suite in this host's apt configuration (sources.list or sources.list.d/*.sources); mmdebstrap needs a Debian mirror"
  # Keep the host's leniency about Release dates (needed with snapshot mirrors).
  valid_until=$(apt-config shell v Acquire::Check-Valid-Until/b | sed -n "s/^v='\(.*\)'$/\1/p")
  check_date=$(apt-config shell v Acquire::Check-Date/b | sed -n "s/^v='\(.*\)'$/\1/p")
  [[ $valid_until == false ]] && aptopts+=(--aptopt='Acquire::Check-Valid-Until "false"')
  [[ $check_date == false ]] && aptopts+=(--aptopt='Acquire::Check-Date "false"')
  cas_dir=$work/cas
  mkdir -p "$cas_dir"
  if [[ ${#host_cas[@]} -gt 0 ]]; then cp "${host_cas[@]}" "$cas_dir/"; fi
  say "base: mmdebstrap --variant=apt $suite with ${base_packages[*]} (apt sources from this host's configuration)"
  include=$(IFS=,; echo "${base_packages[*]}")
  # Docs, man pages and translations left out, as slim images do; copyright files kept.
  PULSE_CAS=$cas_dir PULSE_PY_VERSION=$tmp/python-version mmdebstrap --quiet --variant=apt \
    --include="$include" "${aptopts[@]}" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --customize-hook='mkdir -p "$1/usr/local/share/ca-certificates" && for c in "$PULSE_CAS"/*.crt; do [ -f "$c" ] && cp "$c" "$1/usr/local/share/ca-certificates/"; done; true' \
    --customize-hook='out=$(chroot "$1" update-ca-certificates 2>&1) || { echo "$out" >&2; exit 1; }' \
    --customize-hook='printf "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n" >"$1/etc/pip.conf"' \
    --customize-hook='chroot "$1" python3 -c "import platform; print(platform.python_version())" >"$PULSE_PY_VERSION"' \
    "$suite" "$tmp/base.tar" "$sources" \
    || die "mmdebstrap failed (see above): the host's Debian mirror must be reachable"
  echo "$((SECONDS - start))" >"$tmp/seconds"
  mv "$tmp/base.tar" "$base_tar.new"
  cp "$tmp/python-version" "$base_tar.python"
  cp "$tmp/seconds" "$base_tar.seconds"
  mv "$base_tar.new" "$base_tar"
  rm -rf "$tmp"
  say "base: built in $(cat "$base_tar.seconds") s, rootfs $(human "$(stat -c %s "$base_tar")")"
}

# Imports the base into podman's storage under the FROM name, once per base key.
ensure_base_imported() {
  [[ -f $base_tar ]] || build_base
  podman_up
  if [[ -f $storage/.base-key && $(cat "$storage/.base-key") == "$base_key" ]] && pm image exists "$base_ref"; then
    return 0
  fi
  local python_version
  python_version=$(cat "$base_tar.python")
  pm import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL dev.pulse.base=\"made locally by hack/images/build.sh: Debian $suite, Debian's python3 $python_version\"" \
    --change 'CMD ["python3"]' \
    --message "Debian $suite rootfs (mmdebstrap), python3 $python_version" \
    "$base_tar" "$base_ref" >/dev/null
  echo "$base_key" >"$storage/.base-key"
}

# --- keys ---------------------------------------------------------------------------

# The sources of a Dockerfile's COPY instructions (not COPY --from), one per line.
copy_sources() {
  sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' "$1" | awk '
    toupper($1) == "COPY" {
      if ($0 ~ /\[/) { print "JSON-form COPY is not supported: " $0 > "/dev/stderr"; exit 1 }
      from = 0; n = 0
      for (i = 2; i <= NF; i++) { if ($i ~ /^--from=/) from = 1; else if ($i !~ /^--/) src[++n] = $i }
      if (!from) for (i = 1; i < n; i++) print src[i]
    }'
}

# Copies exactly what the Dockerfile COPYs into a fresh build context (without Python's
# caches or egg-info), so the key hashes exactly what goes into the image.
stage_context() {
  local context=$1 dockerfile=$2 stage=$3 sources
  mapfile -t sources < <(copy_sources "$dockerfile")
  mkdir -p "$stage"
  [[ ${#sources[@]} -gt 0 ]] || return 0
  (cd "$context" && tar --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' -cf - -- "${sources[@]}") \
    | tar -C "$stage" -xf -
}

tree_sum() {
  (cd "$1" && find . \( -type f -o -type l \) -printf '%m %p\n' | LC_ALL=C sort \
    && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}

# --- images -------------------------------------------------------------------------

report() {  # name archive how: one line per image, sizes from the archive and podman
  local name=$1 archive=$2 how=$3 size=""
  [[ -f $archive.size ]] && size=", image $(human "$(cat "$archive.size")") uncompressed"
  printf 'make images: %-25s %-46s %s; archive %s%s\n' "$name.tar" "$(sed s,^localhost/,, "$work/$name.ref")" "$how" \
    "$(human "$(stat -c %s "$out_dir/$name.tar")")" "$size" >&2
}

build_dockerfile_image() {  # name ref dockerfile stage tmp_archive
  local name=$1 ref=$2 dockerfile=$3 stage=$4 archive=$5
  ensure_base_imported
  say "$name: podman build -f ${dockerfile#"$root"/} (a cold build takes minutes)"
  # runc's state under the run directory, not in its default /run/runc
  if ! pm build --pull=never --network=host --layers --force-rm --runtime-flag "root=$run_dir/runc" \
    --build-arg "VERSION=$version" \
    -f "$dockerfile" -t "$ref" "$stage" >"$work/$name.log" 2>&1; then
    tail -n 40 "$work/$name.log" >&2
    die "$name: podman build failed (the end of its output is above)"
  fi
  pm save --quiet --format docker-archive -o "$archive" "$ref"
  pm image inspect --format '{{.Size}}' "$ref" >"$archive.size"
  shorten_names "$archive"
}

# podman names what it builds localhost/NAME:TAG; the archive is to carry NAME:TAG.
shorten_names() {
  python3 - "$1" <<'PY'
import io, json, sys, tarfile
path = sys.argv[1]
with tarfile.open(path) as source, tarfile.open(path + ".short", "w") as target:
    for member in source:
        data = source.extractfile(member) if member.isfile() else None
        if member.name in ("manifest.json", "repositories") and data is not None:
            text = data.read().decode().replace('"localhost/', '"')
            member.size = len(text.encode())
            data = io.BytesIO(text.encode())
        target.addfile(member, data)
PY
  mv "$1.short" "$1"
}

# An image of one static binary from .pulse/bin, run as Prometheus Operator runs it (its
# StatefulSets give the command line, the user and every writable volume); /tmp for Go.
build_binary_image() {  # name ref tmp_archive
  local name=$1 ref=$2 archive=$3 rootfs=$work/$name-rootfs
  podman_up
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  install -m 0755 "$tools_bin/$name" "$rootfs/bin/$name"
  tar -C "$rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/$name-rootfs.tar" bin tmp
  pm import --quiet --change "ENTRYPOINT [\"/bin/$name\"]" --change 'USER 65534:65534' \
    --message "$name from .pulse/bin (make tools)" "$work/$name-rootfs.tar" "$ref" >/dev/null
  pm save --quiet --format docker-archive -o "$archive" "$ref"
  pm image inspect --format '{{.Size}}' "$ref" >"$archive.size"
  shorten_names "$archive"
}

build_pause_image() {  # name ref tmp_archive
  local name=$1 ref=$2 archive=$3 rootfs=$work/pause-rootfs
  podman_up
  mkdir -p "$rootfs"
  (cd "$root/hack/node/pause" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$rootfs/pause" .) \
    || die "$name: go build of hack/node/pause failed"
  chmod 0755 "$rootfs/pause"
  tar -C "$rootfs" --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$work/pause-rootfs.tar" pause
  pm import --quiet --change 'ENTRYPOINT ["/pause"]' --change 'USER 65535:65535' \
    --message "pulse-pause $pause_version: the pod sandbox process" "$work/pause-rootfs.tar" "$ref" >/dev/null
  pm save --quiet --format docker-archive -o "$archive" "$ref"
  pm image inspect --format '{{.Size}}' "$ref" >"$archive.size"
  shorten_names "$archive"
}

prune_cache() {  # name: keep the newest $keep_archives archives of this image
  local old
  while read -r old; do
    rm -f "$old" "$old".*
  done < <(ls -1t "$cache_root/archives/$1"-*.tar 2>/dev/null | tail -n +$((keep_archives + 1)))
}

ensure_image() {  # name kind key [args...]: .pulse/images/<name>.tar, from the cache or built
  local name=$1 kind=$2 key=$3 ref archive tmp start how
  shift 3
  ref=$(cat "$work/$name.ref")
  archive=$cache_root/archives/$name-$key.tar
  if [[ -f $out_dir/.stamp-$name && $(cat "$out_dir/.stamp-$name") == "$key" && -f $out_dir/$name.tar ]]; then
    how="up to date"
    [[ -f $archive.seconds ]] && how+=" (cached; built in $(cat "$archive.seconds") s)"
    report "$name" "$archive" "$how"
    return 0
  fi
  if [[ -f $archive ]]; then
    how="from the cache (built in $(cat "$archive.seconds") s)"
  else
    tmp=$(mktemp -d "$cache_root/archives/.tmp-$name-XXXXXX")
    start=$SECONDS
    case $kind in
      dockerfile) build_dockerfile_image "$name" "$ref" "$@" "$tmp/image.tar" ;;
      pause) build_pause_image "$name" "$ref" "$tmp/image.tar" ;;
      binary) build_binary_image "$name" "$ref" "$tmp/image.tar" ;;
    esac
    echo "$((SECONDS - start))" >"$archive.seconds"
    mv "$tmp/image.tar.size" "$archive.size"
    mv "$tmp/image.tar" "$archive"
    rm -rf "$tmp"
    prune_cache "$name"
    how="built in $(cat "$archive.seconds") s"
  fi
  cp -f --reflink=auto "$archive" "$out_dir/.$name.tar.new"
  mv -f "$out_dir/.$name.tar.new" "$out_dir/$name.tar"
  echo "$key" >"$out_dir/.stamp-$name"
  report "$name" "$archive" "$how"
}

# name -> "context dockerfile"
declare -A dockerfiles=(
  [pulse-operator]="$root $root/Dockerfile.operator"
  [pulse-sidecar]="$root $root/Dockerfile.sidecar"
  [pulse-demo-collector]="$root/examples/apps/demo-collector $root/examples/apps/demo-collector/Dockerfile"
)

start=$SECONDS
for name in pulse-operator pulse-sidecar pulse-demo-collector; do
  read -r context dockerfile <<<"${dockerfiles[$name]}"
  stage=$work/context-$name
  stage_context "$context" "$dockerfile" "$stage"
  key=$({ echo "$name $version"; cat "$dockerfile"; tree_sum "$stage"; echo "$script_sum $base_key"; } | key_of)
  echo "localhost/$name:$version" >"$work/$name.ref"
  ensure_image "$name" dockerfile "$key" "$dockerfile" "$stage"
done
pause_key=$({ go env GOVERSION; tree_sum "$root/hack/node/pause"; echo "$script_sum $pause_version"; } | key_of)
echo "localhost/pulse-pause:$pause_version" >"$work/pulse-pause.ref"
ensure_image pulse-pause pause "$pause_key"
for name in prometheus alertmanager prometheus-config-reloader; do
  [[ -x $tools_bin/$name ]] || die "$tools_bin/$name is missing: run make tools first"
  tool_version=$("$tools_bin/$name" --version 2>&1 | sed -n '1s/^[^ ]*, version \([^ ]*\).*/\1/p')
  [[ -n $tool_version ]] || die "$name --version did not say its version"
  echo "localhost/$name:v$tool_version" >"$work/$name.ref"
  ensure_image "$name" binary "$({ sha256sum <"$tools_bin/$name"; echo "$script_sum $tool_version"; } | key_of)"
done
python_version="Debian's 3.11.x"
[[ -f $base_tar.python ]] && python_version=$(cat "$base_tar.python")
say "NOTE: the base $base_ref is made locally from Debian $suite; its Python is Debian's $python_version, not 3.11.14"
say "done in $((SECONDS - start)) s: $out_dir/*.tar (docker-archive; import with ctr -n k8s.io images import)"
