#!/usr/bin/env bash
# Builds the binaries that Pulse's tests and demo run (a real control plane, Prometheus,
# Pushgateway) into .pulse/bin/, from the pinned wrapper modules beside this script.
#
# Each wrapper module pins one upstream project in its own go.mod/go.sum, so their
# dependency graphs never meet. A build is keyed by a hash of the module files, the
# recipe that builds it (packages, flags, the build functions) and the Go version, and
# kept in a per-user cache so that a fresh clone on the same machine copies binaries
# instead of rebuilding them; an edit elsewhere in this script rebuilds nothing.
# Usage: build.sh [TOOL...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin_dir=$root/.pulse/bin
cache_root=${PULSE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pulse/tools}

kube_version=v1.36.3
pushgateway_deb_version=1.5.1-2+b5
prometheus_operator_version=v0.85.0

die() { echo "make tools: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed. Install Go 1.24 or newer (https://go.dev/doc/install, or your distribution's golang package) and run again."
go_version=$(go env GOVERSION)

# tool -> "wrapper-module package [package...]"
declare -A packages=(
  [kubernetes]="k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl k8s.io/kubernetes/cmd/kubelet"
  [etcd]="go.etcd.io/etcd/server/v3"
  [kwok]="sigs.k8s.io/kwok/cmd/kwok"
  [prometheus]="github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool"
  [prometheus-operator]="github.com/prometheus-operator/prometheus-operator/cmd/operator github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader"
  [alertmanager]="github.com/prometheus/alertmanager/cmd/alertmanager"
)
# the binary names each module yields, in the order of its packages
declare -A binaries=(
  [kubernetes]="kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet"
  [etcd]="etcd"
  [kwok]="kwok"
  [prometheus]="prometheus promtool"
  [prometheus-operator]="prometheus-operator prometheus-config-reloader"
  [alertmanager]="alertmanager"
  [pushgateway]="pushgateway"
)

# Go names a binary after the last element of its import path (without a /vN suffix):
# built name:wanted name
declare -A renamed=(
  [etcd]="server:etcd"
  [prometheus-operator]="operator:prometheus-operator"
)

ldflags_for() {
  local module=$1 minor
  case $module in
    kubernetes)
      minor=${kube_version#v1.}; minor=${minor%%.*}
      local flags="-s -w" pkg
      for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
      done
      echo "$flags" ;;
    prometheus)
      # Prometheus v3.Y.Z is published as module version v0.3YY.Z.
      local module_version release pkg=github.com/prometheus/common/version
      module_version=$(cd "$here/prometheus" && go list -m -f '{{.Version}}' github.com/prometheus/prometheus)
      release=${module_version#v0.}; release="3.$((10#${release:1:2})).${release#*.}"
      echo "-s -w -X $pkg.Version=$release -X $pkg.Branch=release -X $pkg.Revision=$module_version" ;;
    prometheus-operator|alertmanager)
      local upstream=github.com/prometheus-operator/prometheus-operator module_version
      [[ $module == alertmanager ]] && upstream=github.com/prometheus/alertmanager
      module_version=$(cd "$here/$module" && go list -m -f '{{.Version}}' "$upstream")
      echo "-s -w -X github.com/prometheus/common/version.Version=${module_version#v} -X github.com/prometheus/common/version.Revision=$module_version" ;;
    *) echo "-s -w" ;;
  esac
}

stamp_of() {  # what decides a module's binaries: its pins, how it is built, the Go version
  local module=$1
  {
    echo "$go_version"
    echo "${packages[$module]:-} -> ${binaries[$module]} ${renamed[$module]:-}"
    ldflags_for "$module"
    declare -f build_go_module fetch_pushgateway
    if [[ $module == pushgateway ]]; then echo "$pushgateway_deb_version"
    else cat "$here/$module/go.mod" "$here/$module/go.sum"; fi
  } | sha256sum | cut -c1-16
}

build_go_module() {
  local module=$1 out=$2 pkgs
  read -r -a pkgs <<<"${packages[$module]}"
  echo "make tools: building $module (${binaries[$module]}) with $go_version; a cold build takes minutes, a cached one seconds" >&2
  local start=$SECONDS
  (cd "$here/$module" && CGO_ENABLED=0 go build -trimpath -ldflags "$(ldflags_for "$module")" -o "$out/" "${pkgs[@]}") \
    || die "building $module failed (see the Go errors above). The Go module proxy must be reachable, or the modules in the Go module cache."
  local from
  for from in ${renamed[$module]:-}; do mv "$out/${from%%:*}" "$out/${from#*:}"; done
  echo "make tools: built $module in $((SECONDS - start))s" >&2
}

# The Go module proxy refuses github.com/prometheus/pushgateway, so it comes from
# Debian's package, unpacked (not installed) so nothing outside .pulse/ is touched.
fetch_pushgateway() {
  local out=$1 tmp
  command -v apt-get >/dev/null 2>&1 || die "pushgateway: the Go module proxy does not serve it and apt-get is missing; install prometheus-pushgateway and copy its binary to $bin_dir/pushgateway"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  if ! (cd "$tmp" && apt-get download -q "prometheus-pushgateway=$pushgateway_deb_version" >/dev/null 2>&1); then
    apt-get update -q >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download -q "prometheus-pushgateway=$pushgateway_deb_version" >/dev/null) \
      || die "pushgateway: apt-get download prometheus-pushgateway=$pushgateway_deb_version failed"
  fi
  dpkg-deb -x "$tmp"/prometheus-pushgateway_*.deb "$tmp/root"
  cp "$tmp/root/usr/bin/prometheus-pushgateway" "$out/pushgateway"
}

module_dir() {  # module@version -> its directory in the Go module cache (downloaded, checksum-verified)
  local dir
  dir=$(go mod download -json "$1" | sed -n 's/.*"Dir": "\(.*\)",/\1/p') || true
  [[ -d $dir ]] || die "could not download the Go module $1"
  echo "$dir"
}

# Files, not binaries, from pinned modules: Prometheus Operator's CRDs (PrometheusRule,
# ServiceMonitor, PodMonitor: the schemas Pulse's output must pass; Prometheus and
# ThanosRuler: whose selectors decide whether Pulse's rules are loaded; Probe, Alertmanager
# and AlertmanagerConfig: what the real Prometheus Operator watches beside them) and KWOK's
# "fast" stages (what makes simulated nodes and pods go Ready).
prometheus_operator_crds="prometheusrules servicemonitors podmonitors prometheuses thanosrulers probes alertmanagers alertmanagerconfigs"
ensure_data() {
  local kwok_version stamp dir file out=$root/.pulse/data
  kwok_version=$(cd "$here/kwok" && go list -m -f '{{.Version}}' sigs.k8s.io/kwok)
  stamp="$prometheus_operator_version $kwok_version $prometheus_operator_crds"
  [[ -f $out/.stamp && $(cat "$out/.stamp") == "$stamp" ]] && return 0
  rm -rf "$out" && mkdir -p "$out/crds" "$out/kwok-stages"
  dir=$(module_dir "github.com/prometheus-operator/prometheus-operator@$prometheus_operator_version")
  for file in $prometheus_operator_crds; do
    cp "$dir/example/prometheus-operator-crd/monitoring.coreos.com_$file.yaml" "$out/crds/"
  done
  dir=$(module_dir "sigs.k8s.io/kwok@$kwok_version")
  for file in node/fast/node-initialize pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$dir/kustomize/stage/$file.yaml" "$out/kwok-stages/"
  done
  chmod -R u+w "$out"
  echo "$stamp" >"$out/.stamp"
}

ensure() {
  local module=$1 stamp cached tmp name
  stamp=$(stamp_of "$module")
  if [[ -f $bin_dir/.stamp-$module && $(cat "$bin_dir/.stamp-$module") == "$stamp" ]]; then
    return 0
  fi
  cached=$cache_root/$module-$stamp
  if [[ ! -f $cached/.complete ]]; then
    tmp=$(mktemp -d "$cache_root/.tmp-$module-XXXXXX")
    if [[ $module == pushgateway ]]; then fetch_pushgateway "$tmp"; else build_go_module "$module" "$tmp"; fi
    touch "$tmp/.complete"
    rm -rf "$cached"
    mv "$tmp" "$cached"
  fi
  for name in ${binaries[$module]}; do
    cp -f "$cached/$name" "$bin_dir/$name.new"
    mv -f "$bin_dir/$name.new" "$bin_dir/$name"
  done
  echo "$stamp" >"$bin_dir/.stamp-$module"
}

mkdir -p "$bin_dir" "$cache_root"
modules=("$@")
[[ ${#modules[@]} -gt 0 ]] || modules=(etcd kubernetes kwok prometheus pushgateway prometheus-operator alertmanager)
for module in "${modules[@]}"; do
  [[ -n ${binaries[$module]:-} ]] || die "unknown tool '$module' (known: ${!binaries[*]})"
  ensure "$module"
done
ensure_data
