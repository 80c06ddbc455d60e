"""Where VictoriaMetrics answers: the URL shapes of a single node and of one cluster tenant.

A single node serves everything below one base URL, ``http://127.0.0.1:8428`` on the Pi. A
cluster splits the work: vminsert takes writes at ``http://<vminsert>:8480/insert/<tenant>/
prometheus`` and vmselect answers reads at ``http://<vmselect>:8481/select/<tenant>/prometheus``,
where the tenant is an accountID, or accountID:projectID, each a 32-bit unsigned integer
(VictoriaMetrics docs/Cluster-VictoriaMetrics.md, "Multitenancy" and "URL format"). Below
those bases the API paths are the single node's: ``/api/v1/write``, ``/api/v1/import``,
``/api/v1/query``, ``/api/v1/export``, ``/federate``; so are vmalert's ``-datasource.url``,
``-remoteWrite.url`` and ``-remoteRead.url``, which append their own paths to a base.

A few endpoints live at a node's root instead (docs/url-examples.md): ``/health`` on every
component, ``/flags`` and ``/internal/resetRollupResultCache`` on a single node or vmselect,
``/internal/force_flush`` on a single node or vmstorage only, which a client of vminsert and
vmselect cannot reach.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8428"
"""The single node the deploy runs on the Pi."""
LOCAL_HOSTS = ("127.0.0.1", "localhost")
"""A single node at one of these is the Pi's own: the deploy runs it."""
MAX_TENANT_ID = 2**32 - 1
MAX_PORT = 65535

_ORIGIN = (
    r"(?P<origin>https?://(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?)(:(?P<port>[0-9]+))?)"
)
_NODE = re.compile(rf"^{_ORIGIN}/?$")
_TENANT_BASE = re.compile(
    rf"^{_ORIGIN}/(?P<role>insert|select)/(?P<tenant>[0-9]+(:[0-9]+)?)/prometheus/?$"
)
_EXAMPLES = {
    "insert": "http://vminsert:8480/insert/7/prometheus",
    "select": "http://vmselect:8481/select/7/prometheus",
}


@dataclass(frozen=True)
class StoreUrls:
    """One store: a single node (``tenant`` None, both bases the node's URL) or one tenant of
    a cluster (the vminsert and vmselect bases)."""

    insert: str
    """Base of the write API: ``/api/v1/write``, ``/api/v1/import`` below it."""
    select: str
    """Base of the read API: ``/api/v1/query``, ``/api/v1/export``, ``/federate`` below it."""
    tenant: str | None = None

    @property
    def cluster(self) -> bool:
        return self.tenant is not None

    @property
    def local(self) -> bool:
        """A single node on this machine's loopback: the one the deploy runs."""
        return not self.cluster and _split(self.select).hostname in LOCAL_HOSTS

    @property
    def port(self) -> int:
        """The single node's port (where the deploy publishes it); vmselect's for a cluster."""
        return _port(_split(self.select))

    @property
    def address(self) -> str:
        """``host:port`` of the single node, or of vmselect: where the store answers reads."""
        return f"{_split(self.select).hostname}:{self.port}"

    @property
    def remote_write(self) -> str:
        """The Prometheus remote-write endpoint (Vector's sink, Alloy's remote_write)."""
        return f"{self.insert}/api/v1/write"

    @property
    def import_json(self) -> str:
        """The JSON-lines import: the export's own format."""
        return f"{self.insert}/api/v1/import"

    @property
    def query(self) -> str:
        return f"{self.select}/api/v1/query"

    @property
    def export(self) -> str:
        return f"{self.select}/api/v1/export"

    @property
    def federate(self) -> str:
        return f"{self.select}/federate"

    @property
    def health(self) -> tuple[str, ...]:
        """Every node's ``/health``: the single node's, or vminsert's and vmselect's."""
        origins = dict.fromkeys(_origin(base) for base in (self.insert, self.select))
        return tuple(f"{origin}/health" for origin in origins)

    @property
    def flags(self) -> str:
        """The command-line flags page of the node that answers reads."""
        return f"{_origin(self.select)}/flags"

    @property
    def reset_cache(self) -> str:
        # propagate=1: vmselect passes it on to the vmselects in its -selectNode list.
        suffix = "?propagate=1" if self.cluster else ""
        return f"{_origin(self.select)}/internal/resetRollupResultCache{suffix}"

    @property
    def force_flush(self) -> str | None:
        """The single node's flush; None for a cluster (only its vmstorage nodes have one)."""
        return None if self.cluster else f"{self.insert}/internal/force_flush"

    def __str__(self) -> str:
        if self.cluster:
            return f"tenant {self.tenant} of {_origin(self.insert)} and {_origin(self.select)}"
        return self.select


def single_node(url: str) -> StoreUrls:
    """The single node at ``url`` (``http://HOST:PORT``); ValueError saying what to write."""
    found = _NODE.match(url)
    if found is None or not _valid_port(found):
        if _TENANT_BASE.match(url):
            raise ValueError(
                f"{url!r} is a cluster URL: set [storage] insert_url and select_url instead"
            )
        raise ValueError(
            f"{url!r} is not a VictoriaMetrics URL like {DEFAULT_URL} (scheme, host and port, "
            "no path, no login)"
        )
    base = found.group("origin")
    return StoreUrls(base, base)


def tenant_base(url: str, role: str) -> str:
    """``url`` checked as a cluster base of ``role`` (insert or select); its tenant, or
    ValueError saying what to write."""
    found = _TENANT_BASE.match(url)
    if found is None or found.group("role") != role or not _valid_port(found):
        raise ValueError(
            f"{url!r} is not a vm{role} URL like {_EXAMPLES[role]} (7: the studio's tenant)"
        )
    tenant = found.group("tenant")
    if any(int(part) > MAX_TENANT_ID for part in tenant.split(":")):
        raise ValueError(
            f"tenant {tenant} in {url!r} is out of range: accountID and projectID are 0 to "
            f"{MAX_TENANT_ID}"
        )
    return tenant


def cluster(insert_url: str, select_url: str) -> StoreUrls:
    """One tenant of a cluster; ValueError when the two URLs name different tenants."""
    written, read = tenant_base(insert_url, "insert"), tenant_base(select_url, "select")
    if _canonical(written) != _canonical(read):
        raise ValueError(
            f"insert_url writes tenant {written} but select_url reads tenant {read}: use the "
            "studio's one tenant in both"
        )
    return StoreUrls(insert_url.rstrip("/"), select_url.rstrip("/"), _canonical(written))


def _canonical(tenant: str) -> str:
    """``7`` and ``7:0`` are the same tenant: projectID defaults to 0."""
    account, _, project = tenant.partition(":")
    return str(int(account)) if int(project or 0) == 0 else f"{int(account)}:{int(project)}"


def _valid_port(found: re.Match[str]) -> bool:
    port = found.group("port")
    return port is None or 1 <= int(port) <= MAX_PORT


def _split(url: str) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(url)


def _port(parts: urllib.parse.SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _origin(url: str) -> str:
    parts = _split(url)
    return f"{parts.scheme}://{parts.netloc}"
