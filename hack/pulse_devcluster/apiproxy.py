"""A TCP relay from the pod network's gateway to the API server on loopback.

The dev cluster's API server listens on 127.0.0.1 only, which pods cannot reach. A real
cluster's kube-proxy turns the `kubernetes` Service address into a path to the API server;
a real node here gets the smallest stand-in for that one Service: a DNAT rule (host.py)
sends the pods' 10.96.0.1:443 to this relay on the gateway, which copies bytes to the API
server. TLS passes through untouched (the serving certificate names 10.96.0.1), so
in-cluster clients verify and authenticate exactly as they would on a real cluster.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_BUFFER = 65536


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copies one direction until it closes, then half-closes the other side."""
    with contextlib.suppress(OSError):
        while data := source.recv(_BUFFER):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class TcpRelay:
    """Accepts on `listen` and relays each connection to `target`, a thread per direction."""

    def __init__(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        self.target = target
        self._server = socket.create_server(listen, reuse_port=False)
        self._server.settimeout(0.5)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="api-relay", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        self._thread.join(timeout=5)
