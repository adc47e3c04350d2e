#!/usr/bin/env bash
# `make e2e`: the real-node stage (a kubelet with containerd and runc, running the images
# built from the Dockerfiles). It needs root on Linux and Debian's packages. Where it cannot
# run it says why in one line and exits 0, except with CI=true, where it installs what is
# missing or fails with the reason: CI never skips it.
# Usage: run-e2e.sh PYTEST [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

skip() {
  if [[ ${CI:-} == true ]]; then
    echo "make e2e: the real-node stage cannot run here: $1" >&2
    exit 1
  fi
  echo "make e2e: real-node stage skipped: $1"
  exit 0
}

[[ $(uname -s) == Linux ]] || skip "it needs Linux (this is $(uname -s))"
[[ $(id -u) -eq 0 ]] || skip "it needs root (containerd, cgroups, a bridge); run make e2e as root"
if ! missing=$(hack/node/install-deps.sh --check); then
  if [[ ${CI:-} == true || ${PULSE_INSTALL_DEPS:-} == 1 ]]; then
    hack/node/install-deps.sh
  else
    skip "Debian packages missing: $missing (hack/node/install-deps.sh, or PULSE_INSTALL_DEPS=1, installs them)"
  fi
fi
hack/images/build.sh
exec hack/run-pytest.sh "$@"
