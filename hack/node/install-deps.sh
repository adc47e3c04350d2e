#!/usr/bin/env bash
# Installs the Debian packages a real node and the image builds need (containerd, runc,
# the CNI plugins, podman, mmdebstrap, iptables), only those that are missing.
# Usage: install-deps.sh [--check]   (--check: print what is missing, exit 1 if anything is)
set -euo pipefail

packages=(containerd runc containernetworking-plugins podman mmdebstrap iptables uidmap)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
if [[ ${1:-} == --check ]]; then echo "${missing[*]}"; exit 1; fi

command -v apt-get >/dev/null 2>&1 || { echo "install-deps: apt-get not found; install ${missing[*]} by hand" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "install-deps: installing ${missing[*]} needs root" >&2; exit 1; }
echo "install-deps: installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# --no-install-recommends: no daemons or helpers beyond what the node and the builds use
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
