"""What flows from the sources to the sinks: one value of one series at one time.

Sources produce prometheus_client metric families (parsed from a scrape, or collected from
the sidecar's own collectors); `flatten` turns them into samples and adds the identity labels,
so that sinks only ever see one shape.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from prometheus_client import metrics_core

STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
"""Prometheus' staleness marker: a NaN with a fixed bit pattern meaning "this series ended"."""

Labels = tuple[tuple[str, str], ...]
"""Label pairs sorted by name, hashable so that a series can be a dictionary key."""


class Sample(NamedTuple):
    name: str
    labels: Labels
    value: float
    timestamp_ms: int
    family: str
    """The metric family: `http_requests` for `http_requests_total`, a histogram's base name."""
    kind: str
    """The family's type as prometheus_client names it: counter, gauge, histogram, unknown..."""


def is_stale(value: float) -> bool:
    """Whether `value` is the staleness marker (and not any other NaN)."""
    return math.isnan(value) and struct.pack("<d", value) == struct.pack("<d", STALE_NAN)


def labelled(
    pairs: Iterable[tuple[str, str]], identity: Mapping[str, str], honor: bool = False
) -> Labels:
    """`pairs` with the identity labels added, sorted by name.

    An identity label wins over a label of the same name, which is kept as
    `exported_<name>`, as Prometheus does with target labels; with `honor` the label of
    `pairs` wins instead (Prometheus's `honor_labels`). A label with an empty value is left
    out: to Prometheus it is the same as no label, and remote write forbids sending it.
    """
    if honor:
        merged = [(k, v) for k, v in pairs if v]
        present = {k for k, _ in merged}
        merged.extend((k, v) for k, v in identity.items() if v and k not in present)
    else:
        merged = [(f"exported_{k}" if k in identity else k, v) for k, v in pairs if v]
        merged.extend((k, v) for k, v in identity.items() if v)
    merged.sort()
    return tuple(merged)


def flatten(
    families: Iterable[metrics_core.Metric], timestamp_ms: int, identity: Mapping[str, str]
) -> list[Sample]:
    """The samples of `families`, each labelled with `identity`.

    A sample without its own timestamp gets `timestamp_ms`. `_created` samples are left out:
    Prometheus does not ingest them as series either.
    """
    flat: list[Sample] = []
    for family in families:
        created = family.name + "_created"
        for sample in family.samples:
            if sample.name == created:
                continue
            timestamp = (
                timestamp_ms if sample.timestamp is None else int(float(sample.timestamp) * 1000)
            )
            flat.append(
                Sample(
                    sample.name,
                    labelled(sample.labels.items(), identity),
                    float(sample.value),
                    timestamp,
                    family.name,
                    family.type,
                )
            )
    return flat
