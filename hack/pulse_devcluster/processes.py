"""Child processes that cannot outlive the program that started them.

Each child asks the kernel for SIGKILL when its parent dies (PR_SET_PDEATHSIG), so even
a harness killed with SIGKILL leaves no etcd or API server behind (SIGTERM would not do:
an API server whose etcd is gone hangs in its graceful shutdown). A normal stop sends
SIGTERM, waits, then SIGKILLs.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import random
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

_PR_SET_PDEATHSIG = 1
_OWNER_FILE = "owner.pid"


class ProcessFailedError(RuntimeError):
    """A child exited when it should be running."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now.

    Taken from below the kernel's ephemeral range, which the kernel hands to outgoing
    connections: a port of that range, found free here, was once taken by a connection
    before the server it was meant for could bind it, and kube-scheduler failed to start
    ("address already in use"). Ports are handed out in turn from a random start, so that
    two calls of one process never get the same one."""
    for _ in range(len(_PORTS)):
        port = next(_next_ports)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # none below: any one
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ephemeral_start() -> int:
    """The first port of the kernel's ephemeral range (Linux; the IANA range elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 49_152


_PORTS = range(max(1_025, _ephemeral_start() - 10_000), _ephemeral_start())
_next_ports = itertools.islice(
    itertools.cycle(_PORTS), random.randrange(len(_PORTS)) if _PORTS else 0, None
)


def owned_work_dir(prefix: str) -> Path:
    """A fresh temporary directory that records this process as its owner."""
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    (work_dir / _OWNER_FILE).write_text(str(os.getpid()))
    return work_dir


def abandoned_work_dirs(prefix: str) -> Iterator[Path]:
    """Work directories made by `owned_work_dir(prefix)` whose owner is no longer alive:
    its harness was killed before it could clean up."""
    for work_dir in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            os.kill(int((work_dir / _OWNER_FILE).read_text()), 0)
        except (OSError, ValueError):
            yield work_dir


class Lifecycle:
    """start() and stop() as a context manager: stop runs however the block ends."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


@dataclass
class ManagedProcess:
    """One running child, its log file, and how to stop it."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        log_dir: Path,
        env: dict[str, str] | None = None,
    ) -> ManagedProcess:
        log_path = log_dir / f"{name}.log"
        parent_pid = os.getpid()
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [os.fspath(arg) for arg in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=lambda: _die_with_parent(parent_pid),
            )
        return cls(name=name, popen=popen, log_path=log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def ensure_running(self) -> None:
        """Raises with the end of the child's log if it has exited."""
        code = self.popen.poll()
        if code is not None:
            raise ProcessFailedError(
                f"{self.name} exited with status {code}; last lines of {self.log_path}:\n"
                f"{self.log_tail()}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
