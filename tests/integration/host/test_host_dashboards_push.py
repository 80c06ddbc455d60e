"""``sensor-bridge dashboards push`` against a stand-in for Grafana's HTTP API on loopback: it
answers the folder and dashboard endpoints the way Grafana documents them, refuses a wrong
token, and records every request so the test can check the auth header and the bodies
(``overwrite``, the folder, no ``id``: updated in place by uid)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.checks.process import free_port
from sensor_bridge.local.examples import example_context, example_site
from sensor_bridge.render import RenderContext, dashboards
from sensor_bridge.site import load_secrets, load_site
from tests.support.cli import run

TOKEN = "glsa_test-token"
UIDS = ["furnace-studio-1", "devices-studio-1", "pipeline-studio-1"]
FOLDER = "sensor-pipeline-studio-1"


@dataclass
class Request:
    method: str
    path: str
    authorization: str
    body: Any


class FakeGrafana:
    """Folders and dashboards in memory, behind Grafana's endpoints and status codes."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.folders: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.folder_of: dict[str, str] = {}
        grafana = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                grafana.handle(self, None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                grafana.handle(self, json.loads(self.rfile.read(length)))

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads ``requests``."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def handle(self, handler: BaseHTTPRequestHandler, body: Any) -> None:
        authorization = handler.headers.get("Authorization", "")
        self.requests.append(Request(handler.command, handler.path, authorization, body))
        if authorization != f"Bearer {TOKEN}":
            return _reply(handler, 401, {"message": "Unauthorized"})
        routes = (
            ("GET", "/api/folders/", self.get_folder),
            ("POST", "/api/folders", self.create_folder),
            ("GET", "/api/dashboards/uid/", self.get_dashboard),
            ("POST", "/api/dashboards/db", self.save),
        )
        for method, prefix, answer in routes:
            if handler.command == method and handler.path.startswith(prefix):
                return _reply(handler, *answer(handler.path.removeprefix(prefix), body))
        return _reply(handler, 404, {"message": "Not found"})

    def get_folder(self, uid: str, body: None) -> tuple[int, Any]:
        folder = self.folders.get(uid)
        return (200, folder) if folder else (404, {"message": "folder not found"})

    def create_folder(self, rest: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"]}
        return 200, self.folders[body["uid"]]

    def get_dashboard(self, uid: str, body: None) -> tuple[int, Any]:
        if uid not in self.dashboards:
            return 404, {"message": "Dashboard not found"}
        meta = {"folderUid": self.folder_of[uid], "version": self.dashboards[uid]["version"]}
        return 200, {"dashboard": self.dashboards[uid], "meta": meta}

    def save(self, rest: str, body: dict[str, Any]) -> tuple[int, Any]:
        dashboard, folder = body["dashboard"], body.get("folderUid", "")
        uid = dashboard["uid"]
        if folder not in self.folders:
            return 400, {"message": "folder not found"}
        if uid in self.dashboards and not body.get("overwrite"):
            return 412, {"message": "A dashboard with the same uid already exists"}
        previous = self.dashboards.get(uid)
        number = previous["id"] if previous else len(self.dashboards) + 1
        version = previous["version"] + 1 if previous else 1
        self.dashboards[uid] = {**dashboard, "id": number, "version": version}
        self.folder_of[uid] = folder
        answer = {"id": number, "uid": uid, "url": f"/d/{uid}/x", "status": "success"}
        return 200, {**answer, "version": version}

    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _reply(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _with_grafana(site_file: Path, url: str, token: str = TOKEN) -> None:
    secrets = site_file.parent / "secrets.toml"
    secrets.write_text(
        secrets.read_text()
        + "\n[grafana_cloud]\n"
        + 'url = "https://prometheus.example.net/api/prom/push"\nuser = "1"\ntoken = "glc_x"\n'
        + f'stack_url = "{url}"\nservice_account_token = "{token}"\n'
    )


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with FakeGrafana() as server:
        yield server


def test_dry_run_push_nothing_to_do_then_an_update_in_place(
    tmp_path: Path, grafana: FakeGrafana
) -> None:
    site_file = example_site(tmp_path / "site")
    _with_grafana(site_file, grafana.url)
    push = ["dashboards", "push", "--site", str(site_file)]

    dry = run(*push, "--dry-run")
    print(f"\n{dry.output}")
    assert dry.exit_code == 0, dry.output
    lines = dry.output.splitlines()
    assert lines[0] == (
        f"Grafana {grafana.url}: folder 'Sensor pipeline — studio-1' ({FOLDER}) would be created"
    )
    assert [line.split()[:3] for line in lines[1:4]] == [["would", "create", uid] for uid in UIDS]
    assert lines[4] == "3 dashboards: 3 would create, 0 would update, 0 unchanged; nothing sent"
    assert grafana.posts() == []

    pushed = run(*push)
    print(pushed.output)
    assert pushed.exit_code == 0, pushed.output
    assert [line.split()[:2] for line in pushed.output.splitlines()[1:4]] == [
        ["created", uid] for uid in UIDS
    ]
    folder_post, *dashboard_posts = grafana.posts()
    assert folder_post.path == "/api/folders"
    assert folder_post.body == {"uid": FOLDER, "title": "Sensor pipeline — studio-1"}
    context = example_context(tmp_path / "again")
    rendered = {json.loads(f.text)["uid"]: json.loads(f.text) for f in dashboards.render(context)}
    for request in dashboard_posts:
        assert request.path == "/api/dashboards/db"
        assert request.authorization == f"Bearer {TOKEN}"
        assert request.body["overwrite"] is True
        assert request.body["folderUid"] == FOLDER
        assert request.body["dashboard"]["id"] is None
        uid = request.body["dashboard"]["uid"]
        assert request.body["dashboard"] == {**rendered[uid], "id": None}
    assert sorted(grafana.dashboards) == sorted(UIDS)
    assert all(r.authorization == f"Bearer {TOKEN}" for r in grafana.requests)

    # Nothing changed: nothing is written (Grafana would keep a new version of each).
    again = run(*push)
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == "3 dashboards: 0 created, 0 updated, 3 unchanged"
    assert len(grafana.posts()) == 1 + len(UIDS)


def test_a_changed_site_updates_its_dashboard_alone_in_place(
    tmp_path: Path, grafana: FakeGrafana
) -> None:
    site_file = example_site(tmp_path / "site")
    _with_grafana(site_file, grafana.url)
    push = ["dashboards", "push", "--site", str(site_file)]
    assert run(*push).exit_code == 0
    pushed = len(grafana.posts())

    # A new threshold: the furnace dashboard alone changes, and is updated under its uid.
    site_text = site_file.read_text()
    assert site_text.count("too_hot_c = 1250.0") >= 1
    site_file.write_text(site_text.replace("too_hot_c = 1250.0", "too_hot_c = 1200.0", 1))
    dry = run(*push, "--dry-run")
    print(dry.output)
    assert dry.exit_code == 0, dry.output
    assert "would update  furnace-studio-1" in dry.output
    assert "panel 'Main furnace (furnace-1) / Temperature' changed" in dry.output
    assert dry.output.splitlines()[-1] == (
        "3 dashboards: 0 would create, 1 would update, 2 unchanged; nothing sent"
    )
    assert len(grafana.posts()) == pushed

    updated = run(*push)
    print(updated.output)
    assert updated.exit_code == 0, updated.output
    assert f"updated       furnace-studio-1   Furnaces — studio-1 (version 2, {grafana.url}" in (
        updated.output
    )
    assert sorted(grafana.dashboards) == sorted(UIDS)
    assert grafana.dashboards["furnace-studio-1"]["version"] == 2
    assert grafana.dashboards["devices-studio-1"]["version"] == 1
    site = load_site(site_file)
    (furnace,) = (
        json.loads(f.text)
        for f in dashboards.render(RenderContext(site, load_secrets(site)))
        if json.loads(f.text)["uid"] == "furnace-studio-1"
    )
    stored = {k: v for k, v in grafana.dashboards["furnace-studio-1"].items() if k != "version"}
    assert stored == {**furnace, "id": 1}


def test_a_refused_token_and_missing_settings_are_one_line_each(
    tmp_path: Path, grafana: FakeGrafana
) -> None:
    site_file = example_site(tmp_path / "site")
    push = ["dashboards", "push", "--site", str(site_file)]

    result = run(*push)
    assert result.exit_code == 2
    assert result.output == (
        f"sensor-bridge: {site_file.parent / 'secrets.toml'}: no Grafana API: add stack_url = "
        '"https://STACK.grafana.net" and service_account_token = "glsa_..." under '
        "[grafana_cloud]\n"
    )

    _with_grafana(site_file, grafana.url, token="glsa_wrong")
    result = run(*push, "--dry-run")
    assert result.exit_code == 2
    assert result.output == (
        f"sensor-bridge: Grafana at {grafana.url} refused the token (401 Unauthorized): check "
        "service_account_token under [grafana_cloud] (role Editor)\n"
    )
    assert grafana.posts() == []


def test_an_unreachable_grafana_is_one_line(tmp_path: Path) -> None:
    site_file = example_site(tmp_path / "site")
    url = f"http://127.0.0.1:{free_port()}"
    _with_grafana(site_file, url)
    result = run("dashboards", "push", "--site", str(site_file))
    assert result.exit_code == 2
    assert result.output == (
        f"sensor-bridge: cannot reach Grafana at {url}: [Errno 111] Connection refused\n"
    )
