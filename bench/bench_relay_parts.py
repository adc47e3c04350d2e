"""The relay's hot path in parts, per sample: parsing a scrape and encoding remote_write.

Pulse's parser side by side with prometheus_client's (parse, then label), on the same
exposition of N series, first scrape and every later one; then the remote_write encoding.

    .venv/bin/python bench/bench_relay_parts.py [SERIES]
"""

from __future__ import annotations

import sys
import timeit
from collections.abc import Callable

from prometheus_client import parser

from pulse_sidecar import samples
from pulse_sidecar.sinks import remote_write
from pulse_sidecar.sources import exposition

IDENTITY = {"collector": "bench", "namespace": "bench", "pod": "bench-0"}


def microseconds_per_sample(run: Callable[[], object], series: int) -> float:
    return min(timeit.repeat(run, number=1, repeat=5)) / series * 1e6


def main() -> None:
    series = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    text = "# TYPE bench_value gauge\n" + "".join(
        f'bench_value{{shard="{i % 16}",id="{i}"}} {i}.5\n' for i in range(series)
    )

    def reference() -> list[samples.Sample]:
        return samples.flatten(parser.text_string_to_metric_families(text), 0, IDENTITY)

    first = microseconds_per_sample(
        lambda: exposition.SeriesParser(IDENTITY).parse(text, False, 0), series
    )
    remembering = exposition.SeriesParser(IDENTITY)
    parsed = remembering.parse(text, False, 0)
    later = microseconds_per_sample(lambda: remembering.parse(text, False, 0), series)
    peer = microseconds_per_sample(reference, series)
    print(f"parse + label, {series:,} series, prometheus_client: {peer:.2f} us/sample")
    print(f"parse + label, Pulse, first scrape: {first:.2f} us/sample (ratio {peer / first:.1f})")
    print(f"parse + label, Pulse, later scrapes: {later:.2f} us/sample (ratio {peer / later:.1f})")
    chunks = [parsed[i : i + 5000] for i in range(0, series, 5000)]
    remote_write.encode(parsed)  # the label cache fills on the first request, as in the sidecar
    encode = microseconds_per_sample(lambda: [remote_write.encode(c) for c in chunks], series)
    print(f"remote_write encode (protobuf + snappy, 5,000 per request): {encode:.2f} us/sample")


if __name__ == "__main__":
    main()
