"""What a real node changes on the host, recorded so that it can all be undone.

A real node (node.py) needs a few host-wide things: a cgroup subtree for containerd and
the pods, a Linux bridge for the pod network, and kernel settings that the kubelet and the
CNI bridge plugin change on their own (`vm.overcommit_memory`, `kernel.panic`,
`net.ipv4.ip_forward`, ...). Each change is written to a `HostChanges` record in the node's
work directory *before* it is made, so `undo` can reverse exactly what was changed, also by
a later run after this one was SIGKILLed. Nothing that the record does not name is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# The kernel settings the kubelet (container manager) and the CNI bridge plugin set.
TOUCHED_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
)
_RECORD = "host-changes.json"


class HostError(RuntimeError):
    """A change to the host could not be made."""


def run(*argv: str) -> str:
    """Runs a host command (ip, iptables, ...) and returns its output, or raises with it."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise HostError(f"{' '.join(argv)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy: the v1 controllers, and cgroup2 where it is mounted."""
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mount_point, fs_type, *_ = line.split()
        if fs_type in ("cgroup", "cgroup2") and mount_point.startswith(f"{CGROUP_ROOT}/"):
            found.append(Path(mount_point))
    if not found and (CGROUP_ROOT / "cgroup.controllers").exists():
        found.append(CGROUP_ROOT)  # a pure cgroup2 host
    return found


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name


def mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, deepest first (the order to unmount them)."""
    points = []
    prefix = str(directory)
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].encode().decode("unicode_escape")
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(set(points), key=lambda p: len(p.parts), reverse=True)


@dataclass
class HostChanges:
    """The record of one node's host changes, kept as JSON in its work directory."""

    work_dir: Path
    cgroup: str = ""
    """The cgroup subtree (e.g. /pulse-node-1a2b) made in every hierarchy."""
    bridge: str = ""
    """The bridge interface created for the pod network."""
    sysctls: dict[str, str] = field(default_factory=dict)
    """Kernel settings as they were before the node started, to be put back."""
    iptables: list[list[str]] = field(default_factory=list)
    """Rules inserted, each as [table, chain, rule...], to be deleted again."""

    @classmethod
    def load(cls, work_dir: Path) -> HostChanges:
        try:
            data = json.loads((work_dir / _RECORD).read_text())
        except (OSError, ValueError):
            return cls(work_dir=work_dir)
        return cls(
            work_dir=work_dir,
            cgroup=str(data.get("cgroup", "")),
            bridge=str(data.get("bridge", "")),
            sysctls={str(k): str(v) for k, v in dict(data.get("sysctls", {})).items()},
            iptables=[[str(part) for part in rule] for rule in data.get("iptables", [])],
        )

    def _save(self) -> None:
        data = asdict(self)
        data["work_dir"] = str(self.work_dir)
        staging = self.work_dir / f"{_RECORD}.tmp"
        staging.write_text(json.dumps(data, indent=2))
        staging.replace(self.work_dir / _RECORD)

    # -- making changes (each recorded before it is made) ------------------------------

    def remember_sysctls(self) -> None:
        self.sysctls = {name: _sysctl_path(name).read_text().strip() for name in TOUCHED_SYSCTLS}
        self._save()

    def make_cgroup(self, name: str) -> None:
        """Creates `name` in every hierarchy; cpuset needs its cpus and mems filled in."""
        self.cgroup = name
        self._save()
        for hierarchy in cgroup_hierarchies():
            path = hierarchy / name.lstrip("/")
            path.mkdir(exist_ok=True)
            if hierarchy.name == "cpuset":
                for item in ("cpuset.cpus", "cpuset.mems"):
                    (path / item).write_text((hierarchy / item).read_text())

    def make_bridge(self, name: str, address_cidr: str) -> None:
        """A bridge with the pod network's gateway address; the CNI bridge plugin attaches
        the pods' veths to it. No route or NAT leads from it off the machine."""
        self.bridge = name
        self._save()
        run("ip", "link", "add", name, "type", "bridge")
        run("ip", "addr", "add", address_cidr, "dev", name)
        run("ip", "link", "set", name, "up")

    def insert_iptables_rule(self, table: str, chain: str, *rule: str) -> None:
        """Inserts a rule at the top of a chain (before anything the host has there)."""
        self.iptables.append([table, chain, *rule])
        self._save()
        run("iptables", "-w", "-t", table, "-I", chain, "1", *rule)

    # -- undoing them ----------------------------------------------------------------

    def processes(self) -> list[int]:
        """Every process in the node's cgroup subtree (containerd, shims, containers)."""
        pids: set[int] = set()
        if not self.cgroup:
            return []
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / self.cgroup.lstrip("/")
            if not top.is_dir():
                continue
            for procs in top.rglob("cgroup.procs"):
                try:
                    pids.update(int(p) for p in procs.read_text().split())
                except OSError:
                    continue
        return sorted(pids)

    def kill_processes(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while pids := self.processes():
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise HostError(f"processes {pids} in {self.cgroup} survived SIGKILL")
            time.sleep(0.1)

    def _remove_cgroups(self) -> None:
        for hierarchy in cgroup_hierarchies():
            top = hierarchy / self.cgroup.lstrip("/")
            if not top.is_dir():
                continue
            # children before parents; a cgroup directory is removed with rmdir only
            for directory in sorted(
                (p for p in top.rglob("*") if p.is_dir()),
                key=lambda p: len(p.parts),
                reverse=True,
            ):
                _rmdir_retrying(directory)
            _rmdir_retrying(top)

    def undo(self) -> list[str]:
        """Reverses every recorded change; returns what could not be undone (empty when
        everything was). Safe to call twice and on a half-made record."""
        problems: list[str] = []
        try:
            self.kill_processes()
        except HostError as error:
            problems.append(str(error))
        for point in mounts_under(self.work_dir):
            done = subprocess.run(["umount", "-l", str(point)], capture_output=True, text=True)
            if done.returncode != 0:
                problems.append(f"umount {point}: {done.stderr.strip()}")
        for table, chain, *rule in reversed(self.iptables):
            present = subprocess.run(
                ["iptables", "-w", "-t", table, "-C", chain, *rule], capture_output=True
            )
            if present.returncode == 0:
                try:
                    run("iptables", "-w", "-t", table, "-D", chain, *rule)
                except HostError as error:
                    problems.append(str(error))
        if self.bridge and Path(f"/sys/class/net/{self.bridge}").exists():
            # the pods' veths went with their network namespaces; any left are on the bridge
            for port in Path(f"/sys/class/net/{self.bridge}/brif").glob("*"):
                subprocess.run(["ip", "link", "delete", port.name], capture_output=True)
            try:
                run("ip", "link", "delete", self.bridge)
            except HostError as error:
                problems.append(str(error))
        if self.cgroup:
            try:
                self._remove_cgroups()
            except OSError as error:
                problems.append(f"cgroup {self.cgroup}: {error}")
        for name, value in self.sysctls.items():
            try:
                path = _sysctl_path(name)
                if path.read_text().strip() != value:
                    path.write_text(value)
            except OSError as error:
                problems.append(f"sysctl {name}={value}: {error}")
        return problems


def _rmdir_retrying(directory: Path, attempts: int = 50) -> None:
    """rmdir of a cgroup fails with EBUSY for a moment after its last process died."""
    for attempt in range(attempts):
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _link(path: Path) -> str:
    """A network link's name, and the bridge it is attached to, if any."""
    master = path / "master"
    return f"{path.name} on {master.resolve().name}" if master.exists() else path.name


def snapshot() -> dict[str, list[str]]:
    """What a real node could leave on the host, as sorted lists, for before/after tests:
    network links, mounts, top-level cgroups, the kernel settings, iptables rules, network
    namespaces and node work directories."""
    iptables = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False)
    return {
        "links": sorted(_link(p) for p in Path("/sys/class/net").iterdir()),
        "mounts": sorted(
            line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
        ),
        "cgroups": sorted(str(p) for h in cgroup_hierarchies() for p in h.iterdir() if p.is_dir()),
        "sysctls": [f"{n}={_sysctl_path(n).read_text().strip()}" for n in TOUCHED_SYSCTLS],
        "iptables": sorted(  # rules and chains, without the packet counters
            line.split(" [")[0] for line in iptables.stdout.splitlines() if line[:1] in "-:"
        ),
        "netns": sorted(p.name for p in Path("/run/netns").glob("*")),
        "work_dirs": sorted(str(p) for p in Path("/tmp").glob("pulse-node-*")),
    }
