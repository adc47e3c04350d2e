#!/usr/bin/env bash
# Writes hack/tools/kubernetes/go.mod for a Kubernetes release: k8s.io/kubernetes
# replaces its staging modules with ./staging paths, which a consumer cannot use,
# so each one is replaced with its published v0.Y.Z twin. Run when bumping the pin.
set -euo pipefail
version=${1:?usage: gen-kube-gomod.sh v1.Y.Z}
staging=v0.${version#v1.}
cd "$(dirname "$0")/kubernetes"
mod=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
{
  echo "module pulse.dev/hack/tools/kubernetes"
  echo
  grep -E '^go ' "$mod"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  echo "replace ("
  sed -n 's#^\t\(k8s.io/[a-z-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$mod"
  echo ")"
  echo
  echo "tool ("
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet; do
    echo "	k8s.io/kubernetes/cmd/$cmd"
  done
  echo ")"
} > go.mod
go mod tidy
