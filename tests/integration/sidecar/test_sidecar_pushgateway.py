"""The sidecar against a real Pushgateway: a group per pod, replaced each push, deleted at exit."""

from __future__ import annotations

import signal
from collections.abc import Callable

from prometheus_client import parser
from pulse_devcluster import exposition
from sidecar_upstreams import Sidecar, http_get
from tests.support import eventually

GROUP = {"job": "checkout", "namespace": "shop", "pod": "checkout-7d9f"}


def pushed(url: str, family: str) -> dict[frozenset[tuple[str, str]], float]:
    text = http_get(f"{url}/metrics")[1].decode()
    return {
        frozenset(s.labels.items()): s.value
        for f in parser.text_string_to_metric_families(text)
        if f.name == family
        for s in f.samples
        if s.name == f"{family}_total"
    }


def test_the_pods_group_holds_the_latest_values_and_is_deleted_on_shutdown(
    pushgateway: str, sidecar: Callable[..., Sidecar]
) -> None:
    running = sidecar(
        ingest={"interval_seconds": 3600},
        sinks=[{"type": "pushgateway", "url": pushgateway, "push_interval_seconds": 0.2}],
    )
    running.start()
    running.post({"type": "login", "value": 2, "dimensions": {"method": "jwt"}})
    running.flush()
    series = frozenset(
        {
            **GROUP,
            "collector": "checkout",
            "service": "checkout",
            "method": "jwt",
            "instance": "",
        }.items()
    )
    eventually(lambda: pushed(pushgateway, "login") == {series: 2.0}, what="the first push")

    running.post({"type": "login", "value": 3, "dimensions": {"method": "jwt"}})
    running.flush()
    eventually(
        lambda: pushed(pushgateway, "login") == {series: 5.0}, what="the group to be replaced"
    )

    assert running.stop(signal.SIGTERM) == 0
    assert pushed(pushgateway, "login") == {}
    assert "checkout-7d9f" not in http_get(f"{pushgateway}/metrics")[1].decode()


def test_scraped_targets_and_their_scrape_series_are_accepted_in_the_pods_group(
    pushgateway: str, sidecar: Callable[..., Sidecar]
) -> None:
    """The Pushgateway sets the group's `job` on what it is pushed; each target keeps its
    `instance`, so two targets never collide in one group."""
    body = b'# TYPE queue_depth gauge\nqueue_depth{queue="a"} 3\n'
    with exposition.serving(body) as first, exposition.serving(body) as second:
        running = sidecar(
            ingest={"interval_seconds": 3600},
            scrape=[
                {"name": "first", "port": first, "interval_seconds": 0.5, "timeout_seconds": 0.5},
                {
                    "name": "second",
                    "port": second,
                    "interval_seconds": 0.5,
                    "timeout_seconds": 0.5,
                    "job": "other",
                },
            ],
            sinks=[{"type": "pushgateway", "url": pushgateway, "push_interval_seconds": 0.2}],
        )
        running.start()

        def group() -> dict[tuple[str, str], dict[str, str]]:
            text = http_get(f"{pushgateway}/metrics")[1].decode()
            return {
                (s.name, s.labels["instance"]): s.labels
                for f in parser.text_string_to_metric_families(text)
                for s in f.samples
                if s.name in ("queue_depth", "up") and s.labels.get("pod") == GROUP["pod"]
            }

        found = eventually(lambda: len(group()) == 4 and group(), what="both targets' series")
        assert {instance for _, instance in found} == {f"127.0.0.1:{first}", f"127.0.0.1:{second}"}
        assert {labels["job"] for labels in found.values()} == {GROUP["job"]}
        assert running.metric(
            'collector_samples_dropped_total{sink="pushgateway",reason="rejected"}'
        ) in (None, 0.0)
