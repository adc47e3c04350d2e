#!/usr/bin/env python3
"""Copies crds/ into the chart's crds/ folder and writes manifests/install.yaml from the
chart; with --check, only says whether both are current (exit 1 when stale), for CI.
Run it after `python -m pulse_operator.crdgen` and after any change to charts/pulse."""

from __future__ import annotations

import argparse
import sys

import pulse_chart


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    wanted = pulse_chart.crd_copies()
    if not args.check:  # the manifest embeds the chart's CRDs: copy them first
        for path, content in wanted.items():
            path.write_bytes(content)
    wanted[pulse_chart.INSTALL_MANIFEST] = pulse_chart.install_manifest().encode()
    stale = [
        path
        for path, content in wanted.items()
        if not path.exists() or path.read_bytes() != content
    ]
    if args.check:
        for path in stale:
            print(f"{path} is stale: run hack/gen-manifests.py", file=sys.stderr)
        return 1 if stale else 0
    pulse_chart.INSTALL_MANIFEST.parent.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_bytes(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
