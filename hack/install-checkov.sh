#!/usr/bin/env bash
# Creates .pulse/checkov, a virtual environment holding exactly the packages pinned in
# hack/requirements-checkov.txt, unless it already holds them. Usage: hack/install-checkov.sh
# [PYTHON] (default python3). Prints the path of the checkov binary.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}
requirements=hack/requirements-checkov.txt
venv=.pulse/checkov
stamp=$venv/.pulse-installed
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" && -x $venv/bin/checkov ]]; then
  echo "$venv/bin/checkov"
  exit 0
fi
rm -rf "$venv"
"$python" -m venv "$venv"
# --no-deps: the file lists every package, so nothing unpinned can come in; pip check
# then proves the set is complete and consistent.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$requirements"
"$venv/bin/pip" check --disable-pip-version-check >/dev/null
echo "$want" >"$stamp"
echo "$venv/bin/checkov"
