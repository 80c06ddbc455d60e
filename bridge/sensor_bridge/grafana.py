"""Putting the generated dashboards into a Grafana stack (Grafana Cloud) through its HTTP API.

The dashboards' uids are stable (``render.dashboards``: kind and studio), so a push updates each
in place: ``POST /api/dashboards/db`` with ``overwrite``, into one folder per studio (created
when missing, ``POST /api/folders``). Each dashboard is first read back
(``GET /api/dashboards/uid/UID``) and compared with the generated one: only new and changed
dashboards are written, so pushing twice adds no version in Grafana, and ``--dry-run`` prints
exactly what a push would do.

Authentication: a service account token, sent as ``Authorization: Bearer``. Every failure is a
``BridgeError`` with one line (unreachable, token refused, Grafana's own message).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sensor_bridge.errors import BridgeError

TIMEOUT_S = 15.0
NEW = "new"
CHANGED = "changed"
UNCHANGED = "unchanged"
_SERVER_KEYS = ("id", "version")
"""Keys Grafana sets on a stored dashboard; never part of the comparison."""


class GrafanaApi:
    def __init__(self, url: str, token: str, timeout: float = TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def folder(self, uid: str) -> dict[str, Any] | None:
        return self._get(f"/api/folders/{urllib.parse.quote(uid)}")

    def create_folder(self, uid: str, title: str) -> None:
        self._send("/api/folders", {"uid": uid, "title": title})

    def dashboard(self, uid: str) -> dict[str, Any] | None:
        """``{"dashboard": ..., "meta": ...}`` of the stored dashboard, None when there is none."""
        return self._get(f"/api/dashboards/uid/{urllib.parse.quote(uid)}")

    def save_dashboard(self, dashboard: Mapping[str, Any], folder_uid: str, message: str) -> int:
        """Create or overwrite the dashboard with its uid; the version Grafana stored."""
        body = {
            # No id: Grafana finds the dashboard by uid and overwrites it in place.
            "dashboard": {**dashboard, "id": None},
            "folderUid": folder_uid,
            "message": message,
            "overwrite": True,
        }
        saved = self._send("/api/dashboards/db", body)
        return int(saved.get("version", 0))

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            return self._request("GET", path, None)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise self._refused(error, "GET", path) from None

    def _send(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._request("POST", path, body)
        except urllib.error.HTTPError as error:
            raise self._refused(error, "POST", path) from None

    def _request(self, method: str, path: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError:
            raise
        except OSError as error:
            reason = getattr(error, "reason", error)
            raise BridgeError(f"cannot reach Grafana at {self.url}: {reason}") from None
        except ValueError:
            raise BridgeError(
                f"Grafana at {self.url} answered {method} {path} with non-JSON"
            ) from None

    def _refused(self, error: urllib.error.HTTPError, method: str, path: str) -> BridgeError:
        try:
            said = str(json.loads(error.read()).get("message", ""))
        except (ValueError, AttributeError):
            said = ""
        if error.code in (401, 403):
            hint = "check service_account_token under [grafana_cloud] (role Editor)"
            return BridgeError(
                f"Grafana at {self.url} refused the token ({error.code} {said}): {hint}"
            )
        return BridgeError(f"Grafana at {self.url}: {method} {path}: {error.code} {said}".strip())


@dataclass(frozen=True)
class Planned:
    """What a push does with one dashboard."""

    uid: str
    title: str
    action: str
    """NEW, CHANGED or UNCHANGED."""
    changes: tuple[str, ...] = ()
    """For CHANGED: what differs, one short phrase each."""


def plan(
    api: GrafanaApi, dashboards: Sequence[Mapping[str, Any]], folder_uid: str
) -> list[Planned]:
    """Compare each generated dashboard with the one stored under its uid."""
    planned = []
    for dashboard in dashboards:
        uid, title = str(dashboard["uid"]), str(dashboard.get("title", ""))
        stored = api.dashboard(uid)
        if stored is None:
            planned.append(Planned(uid, title, NEW))
            continue
        found = differences(dashboard, stored.get("dashboard", {}))
        where = stored.get("meta", {}).get("folderUid", "")
        if where != folder_uid:
            found.append(f"moves from folder {where or '(General)'!r}")
        planned.append(Planned(uid, title, CHANGED if found else UNCHANGED, tuple(found)))
    return planned


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    """What a push would change in ``theirs``: panels by title, other keys by name. Keys only
    Grafana sets are left out, and so is anything Grafana added that we do not send."""
    found = []
    for key in sorted(k for k in ours if k not in _SERVER_KEYS):
        if key == "panels":
            found += _panel_differences(ours.get("panels") or [], theirs.get("panels") or [])
        elif ours[key] != theirs.get(key):
            found.append(f"{key} changed")
    return found


def _panel_differences(ours: Sequence[Mapping[str, Any]], theirs: Sequence[Any]) -> list[str]:
    mine, stored = _by_place(ours), _by_place(theirs)
    found = [f"panel {t!r} added" for t in mine if t not in stored]
    found += [f"panel {t!r} removed" for t in stored if t not in mine]
    found += [
        f"panel {t!r} changed"
        for t, panel in mine.items()
        if t in stored and any(panel[k] != stored[t].get(k) for k in panel)
    ]
    if not found and list(mine) != list(stored):
        found.append("panels reordered")
    return found


def _by_place(panels: Sequence[Any]) -> dict[str, Mapping[str, Any]]:
    """Panels by row and title ("Glory hole (glory-hole) / Temperature"): every device's row
    has panels of the same titles, and panel ids shift when a device is added."""
    placed: dict[str, Mapping[str, Any]] = {}
    row = ""
    for panel in panels:
        if not isinstance(panel, Mapping):
            continue
        title = str(panel.get("title", ""))
        if panel.get("type") == "row":
            row = title
            placed[f"row {title}"] = panel
        else:
            placed[f"{row} / {title}" if row else title] = panel
    return placed


def ensure_folder(api: GrafanaApi, uid: str, title: str, dry_run: bool) -> bool:
    """Whether the folder had to be created (or would be, on a dry run)."""
    if api.folder(uid) is not None:
        return False
    if not dry_run:
        api.create_folder(uid, title)
    return True
