"""The `pulse-operator` command: `run` the operator, or `render` manifests offline."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

from pulse_operator import __version__, yamlout
from pulse_operator.offline import render_paths
from pulse_operator.settings import OperatorSettings, SettingsError


def _run(args: argparse.Namespace, settings: OperatorSettings) -> int:
    import kopf  # imported here so that `render` works without kopf's start-up cost

    from pulse_operator.handlers import build_registry
    from pulse_operator.kube import KubeClient
    from pulse_operator.metrics import OperatorMetrics

    kopf.configure(verbose=args.verbose, log_format=kopf.LogFormat.JSON)
    kube = KubeClient.from_environment(
        settings.field_manager, settings.http_pool_size, cluster_wide=not args.namespace
    )
    metrics = OperatorMetrics()
    if args.metrics:
        metrics.serve(args.metrics)
    kopf.run(
        registry=build_registry(kube, settings, scoped=bool(args.namespace), metrics=metrics),
        standalone=args.peering is None,
        peering_name=args.peering,
        # distinct priorities make exactly one replica active; equal ones would all work
        priority=args.priority if args.priority is not None else secrets.randbelow(1_000_000),
        clusterwide=not args.namespace,
        namespaces=args.namespace or (),
        liveness_endpoint=args.liveness,
    )
    return 0


def _render(args: argparse.Namespace, settings: OperatorSettings) -> int:
    result = render_paths(args.file, settings)
    for problem in result.problems:
        print(problem, file=sys.stderr)
    if result.problems:
        return 1
    if args.output == "json":
        print(json.dumps({"apiVersion": "v1", "kind": "List", "items": result.objects}, indent=2))
    else:
        print(yamlout.dump_all(result.objects), end="")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pulse-operator", description="Pulse: MetricsCollector and SLO resources."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current cluster")
    run.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="watch only this namespace (repeatable); default: all namespaces",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        metavar="URL",
        help="where to serve the liveness probe (default: %(default)s)",
    )
    run.add_argument(
        "--peering",
        metavar="NAME",
        help="run as one of several replicas: only the one with the highest priority works, "
        "the others wait (kopf peering; the peering object NAME must exist)",
    )
    run.add_argument(
        "--priority",
        type=int,
        help="peering priority (default: random, so two replicas never tie)",
    )
    run.add_argument(
        "--metrics",
        metavar="URL",
        help="serve the operator's own Prometheus metrics, e.g. http://0.0.0.0:9090/metrics",
    )
    run.add_argument("--verbose", action="store_true", help="debug logging")
    run.set_defaults(handler=_run)

    render = commands.add_parser(
        "render", help="print every object the operator would create for the manifests"
    )
    render.add_argument(
        "-f",
        "--file",
        action="append",
        type=Path,
        required=True,
        metavar="PATH",
        help="a manifest file or a directory of them (repeatable)",
    )
    render.add_argument("-o", "--output", choices=["yaml", "json"], default="yaml")
    render.set_defaults(handler=_render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = OperatorSettings.from_env()
    except SettingsError as error:
        print(f"pulse-operator: {error}", file=sys.stderr)
        return 2
    status: int = args.handler(args, settings)
    return status


if __name__ == "__main__":
    sys.exit(main())
