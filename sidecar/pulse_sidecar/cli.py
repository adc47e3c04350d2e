"""`pulse-sidecar --config PATH`: validate the configuration, then serve until SIGTERM.

Exit status: 0 after a graceful stop, 2 for a configuration that cannot be used (the message
names the field and what is allowed), 1 for any other failure.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from pulse_sidecar import app, config_loader, logs

log = logging.getLogger(__name__)

YOUNG_OBJECTS_PER_COLLECTION = 50_000
"""CPython collects its youngest generation every 700 new objects by default: a scrape of
50,000 series makes over 100,000, so the collector ran some 150 times per scrape, each
run walking the young objects and now and then everything. Measured with
bench/bench_relay_vs_agent.py at 50,000 series: samples per core-second rose by a third
(ratio to the agent 0.31 -> 0.41), RSS unchanged; 10,000 gained less, 200,000 no more."""

HANDLER_DRAIN_SECONDS = 2.0
"""On SIGTERM, how long requests under way may take before the sinks get the grace period."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pulse-sidecar",
        description="Pulse's metrics sidecar: collects, buffers without loss, pushes upstream.",
        epilog=f"Scalar settings can be overridden with {config_loader.ENV_PREFIX}<FIELD>__...",
    )
    parser.add_argument(
        "--config", required=True, type=Path, metavar="PATH", help="the YAML configuration"
    )
    arguments = parser.parse_args(argv)
    try:
        settings = config_loader.load(arguments.config, os.environ)
        application = app.create_app(settings)
    except config_loader.ConfigError as error:
        print(f"pulse-sidecar: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level)
    _tune_garbage_collector()
    log.info(
        "starting",
        extra={"address": settings.server.address, "port": settings.server.port},
    )
    try:
        web.run_app(
            application,
            host=settings.server.address,
            port=settings.server.port,
            print=None,
            access_log_class=logs.AccessLogger,
            shutdown_timeout=HANDLER_DRAIN_SECONDS,
            # aiohttp closes a connection that stays without a whole request head this long
            # after it opened or went idle: the head's read timeout
            keepalive_timeout=settings.server.read_timeout_seconds,
        )
    except Exception:
        log.exception("the sidecar stopped on an error")
        return 1
    log.info("stopped")
    return 0


def _tune_garbage_collector() -> None:
    """What start-up made (modules, the application) lives as long as the process: frozen,
    no collection walks it again; and young objects are collected in larger steps."""
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, 10, 10)
