"""Ports for the local control plane's components: never one an outgoing connection can take."""

from __future__ import annotations

import socket
from pathlib import Path

from pulse_devcluster import processes


def test_free_ports_are_below_the_ephemeral_range_distinct_and_bindable() -> None:
    ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [processes.free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(1024 < port < ephemeral for port in ports), ports
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", ports[-1]))


def test_a_port_something_listens_on_is_passed_over() -> None:
    taken = processes.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", taken + 1))
        listener.listen()
        assert processes.free_port() != taken + 1
