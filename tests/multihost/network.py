"""Hosts on one machine: a network namespace each, wired to a switch by veth pairs.

The switch is a namespace of its own holding a Linux bridge; every host has one veth pair, its
``eth0`` end in the host and the other end plugged into the bridge. Nothing is added to the root
namespace (no address, no route, no interface), so two runs side by side, or the machine's own
services, never see each other: every name carries the run's prefix, and the addresses live only
inside the run's namespaces.

Cutting a host pulls its cable at the switch (the bridge end of its veth goes down): the host keeps
its address and routes, its packets go nowhere, and its TCP connections hang rather than fail,
as when a machine drops off a real network.

The test process reaches the hosts from a client host of its own: `run_inside` runs a function in
a thread that has entered the client's namespace (a network namespace belongs to a thread, and
the sockets a thread opens stay in the namespace they were opened in).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
PREFIX = "omh"  # every namespace of these tests is named omh<pid>-<host>
SUBNET = "10.77.0"


class NetworkError(AssertionError):
    """The namespaces or links could not be built or changed (a failure of the test, never a skip)."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise NetworkError(f"`ip {' '.join(args)}` failed ({done.returncode}): {done.stderr.strip()}")
    return done


@dataclass(frozen=True, slots=True)
class Host:
    """A namespace with one interface (``eth0``) on the switch."""

    name: str
    namespace: str
    address: str
    port: str  # the bridge end of its veth, in the switch namespace

    def exec_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run inside this host."""
        return ["ip", "netns", "exec", self.namespace, *argv]


class Network:
    """A switch and the hosts plugged into it; `close` removes them all (and kills what runs inside)."""

    def __init__(self, prefix: str | None = None) -> None:
        self.prefix = prefix or f"{PREFIX}{os.getpid()}"
        self.switch = f"{self.prefix}-sw"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        remove_stale_namespaces()
        self._add_namespace(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")

    def _add_namespace(self, namespace: str) -> None:
        ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        ip("-n", namespace, "link", "set", "lo", "up")

    def add_host(self, name: str, last_octet: int) -> Host:
        namespace = f"{self.prefix}-{name}"
        host = Host(name, namespace, f"{SUBNET}.{last_octet}", f"p{last_octet}")
        self._add_namespace(namespace)
        ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", host.port, "netns", self.switch)
        ip("-n", self.switch, "link", "set", host.port, "master", "br0")
        ip("-n", self.switch, "link", "set", host.port, "up")
        ip("-n", namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        ip("-n", namespace, "link", "set", "eth0", "up")
        self.hosts[name] = host
        return host

    def cut(self, host: Host) -> None:
        """Pull the host's cable: the switch's end of its veth goes down."""
        ip("-n", self.switch, "link", "set", host.port, "down")

    def restore(self, host: Host) -> None:
        ip("-n", self.switch, "link", "set", host.port, "up")

    def is_cut(self, host: Host) -> bool:
        return "state DOWN" in ip("-n", self.switch, "link", "show", host.port).stdout

    def close(self) -> list[str]:
        """Kill every process left in the namespaces, then delete them (their veths go with them);
        returns what could not be removed."""
        problems = []
        for namespace in reversed(self._namespaces):
            problems.extend(delete_namespace(namespace))
        self._namespaces.clear()
        self.hosts.clear()
        return problems


def namespace_pids(namespace: str) -> list[int]:
    done = ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in done.stdout.split()]


def delete_namespace(namespace: str) -> list[str]:
    """Kill what runs in ``namespace`` and delete it; returns the problems met (empty when all went)."""
    for pid in namespace_pids(namespace):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    done = ip("netns", "delete", namespace, check=False)
    if done.returncode != 0 and namespace in existing_namespaces():
        return [f"namespace {namespace}: {done.stderr.strip()}"]
    return []


def existing_namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()]


def remove_stale_namespaces() -> None:
    """Namespaces of earlier runs whose process is gone (killed before its finalizers ran)."""
    for namespace in existing_namespaces():
        found = re.fullmatch(rf"{PREFIX}(\d+)-\w+", namespace)
        if found and not alive(int(found.group(1))):
            delete_namespace(namespace)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_libc = ctypes.CDLL(None, use_errno=True)


def run_inside(namespace: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)`` in a thread that has entered ``namespace``'s network; its
    result, or its exception raised here."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            _enter(namespace)
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"in-{namespace}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _enter(namespace: str) -> None:
    fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise NetworkError(f"setns({namespace}): {os.strerror(errno)}")
    finally:
        os.close(fd)
