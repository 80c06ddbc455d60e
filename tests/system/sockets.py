"""Listening TCP sockets of processes, from /proc (no psutil): which address each binds.

A process's sockets are the ``socket:[inode]`` links in ``/proc/PID/fd``; the kernel's tables
``/proc/net/tcp`` and ``/proc/net/tcp6`` give each listening inode its local address.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN_STATE = "0A"


@dataclass(frozen=True)
class Listener:
    pid: int
    program: str
    """The executable's file name."""
    address: str
    port: int


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces: the fields follow its last ")".
        ppid = int(stat.rpartition(")")[2].split()[1])
        if ppid == parent:
            found.append(int(entry.name))
    return found


def listeners(pids: list[int]) -> list[Listener]:
    """Every listening TCP socket (IPv4 and IPv6) of ``pids``."""
    table = _listening_inodes()
    found = []
    for pid in pids:
        try:
            program = Path(os.readlink(PROC / str(pid) / "exe")).name
            links = [os.readlink(fd) for fd in (PROC / str(pid) / "fd").iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:[") and link[8:-1] in table:
                address, port = table[link[8:-1]]
                found.append(Listener(pid, program, address, port))
    return found


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def _listening_inodes() -> dict[str, tuple[str, int]]:
    table = {}
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        lines = (PROC / "net" / name).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN_STATE:
                hex_address, hex_port = local.split(":")
                table[inode] = (_address(hex_address, family), int(hex_port, 16))
    return table


def _address(hex_address: str, family: int) -> str:
    """/proc/net/tcp{,6} print the address as 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    words = struct.unpack(f"={len(raw) // 4}I", raw)
    return socket.inet_ntop(family, struct.pack(f"!{len(words)}I", *words))
