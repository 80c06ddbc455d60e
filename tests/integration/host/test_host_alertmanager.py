"""Alertmanager on the rendered config: amtool accepts it (and catches a broken one), every
rule's alert reaches the receiver its type names, the inhibitions hold, the all-clear arrives,
and the silence commands work against the real API."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sensor_bridge.alerting import alerts, rules
from sensor_bridge.alerting.alerts import INHIBITIONS
from sensor_bridge.checks import FAILED, OK
from sensor_bridge.checks import alertmanager as check_alertmanager
from sensor_bridge.local.alertmanager import FAST_PAGING, Alertmanager, routed_to
from sensor_bridge.local.examples import example_context, example_site
from sensor_bridge.local.receiver import Notified, WebhookReceiver
from sensor_bridge.local.tools import require_tool
from sensor_bridge.render import RenderContext, RenderedFile, alertmanager
from sensor_bridge.render.alertmanager import CONFIG_PATH, DEFAULTS_PATH
from sensor_bridge.tree import write_tree
from tests.support.cli import run
from tests.support.trees import replaced

STUDIO = "studio-1"
ARRIVAL_TIMEOUT_S = 10.0


@pytest.fixture
def context(tmp_path: Path) -> RenderContext:
    return example_context(tmp_path / "site")


def _tree(root: Path, files: list[RenderedFile]) -> Path:
    write_tree(root, files)
    return root


def test_rendered_files_pass_amtool_and_start(tmp_path: Path, context: RenderContext) -> None:
    files = alertmanager.render(context)
    results = check_alertmanager.check(_tree(tmp_path / "tree", files), files)
    assert [(r.file, r.tool, r.result) for r in results] == [
        (str(CONFIG_PATH), "amtool", OK),
        (str(DEFAULTS_PATH), "prometheus-alertmanager", OK),
    ]
    assert all(r.version.startswith("0.25") for r in results), results
    assert "--cluster.listen-address=" in results[1].detail


def test_broken_files_are_caught(tmp_path: Path, context: RenderContext) -> None:
    files = alertmanager.render(context)
    broken = replaced(files, CONFIG_PATH, "group_wait: 1s", "group_wait: soon")
    broken = replaced(broken, DEFAULTS_PATH, "--cluster", "--no-such-flag --cluster")
    config, flags = check_alertmanager.check(_tree(tmp_path / "tree", broken), broken)
    assert (config.result, config.detail) == (FAILED, 'not a valid duration string: "soon"')
    assert flags.result == FAILED
    assert "no-such-flag" in flags.detail


def test_every_rule_routes_to_the_receiver_of_its_type(
    tmp_path: Path, context: RenderContext
) -> None:
    """amtool's own router on every alert the rendered rules can raise."""
    root = _tree(tmp_path / "tree", alertmanager.render(context))
    receivers = {alerts.SHOP: alertmanager.OWNER, alerts.SYSTEM: alertmanager.SUPPORT}
    every_rule = [r for g in rules.rules(context.site)["groups"] for r in g["rules"]]
    seen = set()
    for rule in every_rule:
        labels = {"alertname": rule["alert"], **rule["labels"]}
        key = tuple(sorted(labels.items()))
        if key in seen:
            continue
        seen.add(key)
        expected = (
            alertmanager.HEARTBEAT
            if rule["alert"] == alerts.HEARTBEAT
            else receivers[labels[alerts.TYPE_LABEL]]
        )
        assert _route(root, labels) == expected, labels
    # An alert without a known type still reaches someone: support.
    assert _route(root, {"alertname": "Unexpected"}) == alertmanager.SUPPORT


def _route(root: Path, labels: dict[str, str]) -> str:
    argv: list[str | Path] = [
        require_tool("amtool"),
        "config",
        "routes",
        "test",
        f"--config.file={root / CONFIG_PATH}",
        *(f"{name}={value}" for name, value in labels.items()),
    ]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def _alert(name: str, device: str, kind: str, *, resolved: bool = False) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    alert: dict[str, Any] = {
        "labels": {
            "alertname": name,
            alerts.TYPE_LABEL: kind,
            alerts.STUDIO_LABEL: STUDIO,
            alerts.DEVICE_LABEL: device,
        },
        "annotations": {"summary": name},
        "startsAt": now,
    }
    if resolved:
        alert["endsAt"] = now
    return alert


def _kind(name: str) -> str:
    return alerts.SHOP if name in alerts.SHOP_ALERTS else alerts.SYSTEM


def _arrived(notified: list[Notified]) -> set[tuple[str, str, str]]:
    return {(n.labels["alertname"], n.labels[alerts.DEVICE_LABEL], n.status) for n in notified}


def _seen(expected: tuple[str, str, str]) -> Callable[[list[Notified]], bool]:
    def seen(notified: list[Notified]) -> bool:
        return expected in _arrived(notified)

    return seen


def test_inhibitions_hold_and_the_all_clear_arrives(tmp_path: Path, context: RenderContext) -> None:
    """Each inhibition's source and targets on one device (targets muted), the same targets
    on another device (they page); then one of those resolves."""
    with WebhookReceiver() as receiver:
        root = _tree(tmp_path / "tree", alertmanager.render(routed_to(context, receiver)))
        with Alertmanager(tmp_path / "am", root) as manager:
            posted, expected = [], set()
            for number, rule in enumerate(INHIBITIONS):
                muted, paged = f"muted-{number}", f"paged-{number}"
                posted.append(_alert(rule.source, muted, _kind(rule.source)))
                expected.add((rule.source, muted, "firing"))
                for target in rule.targets:
                    posted += [
                        _alert(target, muted, _kind(target)),
                        _alert(target, paged, _kind(target)),
                    ]
                    expected.add((target, paged, "firing"))
            manager.post(posted)
            assert receiver.wait_for(lambda n: expected <= _arrived(n), ARRIVAL_TIMEOUT_S)
            # Later than every group's first flush: nothing muted may have slipped through.
            manager.post([_alert(alerts.FLAME_OUT, "paged-0", alerts.SHOP, resolved=True)])
            resolved = (alerts.FLAME_OUT, "paged-0", "resolved")
            assert receiver.wait_for(lambda n: resolved in _arrived(n), ARRIVAL_TIMEOUT_S)
        arrived = _arrived(receiver.notified())
        assert not {a for a in arrived if a[1].startswith("muted") and a not in expected}
        for notified in receiver.notified():
            assert notified.path == (
                alertmanager.OWNER
                if notified.labels[alerts.TYPE_LABEL] == alerts.SHOP
                else alertmanager.SUPPORT
            )


def test_a_flame_out_soon_after_relighting_pages_at_once(
    tmp_path: Path, context: RenderContext
) -> None:
    """With the site's own paging: the device's group outlives the all-clear, so the second
    flame out waits for the group's next interval. vmalert fires 10-17 s after the flame goes
    out (alerting.rules): of the 20 s goal, Alertmanager may take a few seconds at most."""
    bound_s = 7.0
    with WebhookReceiver() as receiver:
        routed = routed_to(context, receiver, settings=context.site.alertmanager)
        root = _tree(tmp_path / "tree", alertmanager.render(routed))
        with Alertmanager(tmp_path / "am", root) as manager:
            for status in ("firing", "resolved"):
                manager.post(
                    [_alert(alerts.FLAME_OUT, "relit", alerts.SHOP, resolved=status != "firing")]
                )
                assert receiver.wait_for(_seen((alerts.FLAME_OUT, "relit", status)), 30)
            since = len(receiver.notified())
            out_again = time.monotonic()
            manager.post([_alert(alerts.FLAME_OUT, "relit", alerts.SHOP)])
            assert receiver.wait_for(lambda n: len(n) > since, bound_s + 5)
        took = receiver.notified()[since].at - out_again
    assert receiver.notified()[since].status == "firing"
    assert took <= bound_s, f"the second flame out waited {took:.1f} s in Alertmanager"


def _site_on(tmp_path: Path, port: int) -> str:
    site_file = example_site(tmp_path / "cli-site")
    text = site_file.read_text()
    assert "\nport = 9093\n" in text
    site_file.write_text(text.replace("\nport = 9093\n", f"\nport = {port}\n"))
    return str(site_file)


def test_silence_commands(tmp_path: Path, context: RenderContext) -> None:
    with WebhookReceiver() as receiver:
        root = _tree(tmp_path / "tree", alertmanager.render(routed_to(context, receiver)))
        with Alertmanager(tmp_path / "am", root) as manager:
            site = _site_on(tmp_path, manager.port)
            created = run("alerts", "silence", "glory-hole", "--for", "8h", "--reason",
                          "relining the crucible", "--site", site)  # fmt: skip
            assert created.exit_code == 0, created.output
            silence_id = created.output.strip()
            assert re.fullmatch(r"[0-9a-f-]{36}", silence_id)
            listed = run("alerts", "silences", "--site", site)
            assert listed.exit_code == 0
            assert f"{silence_id}  active " in listed.output
            assert 'studio="studio-1", device="glory-hole"' in listed.output
            assert "@" in listed.output and ": relining the crucible" in listed.output
            # The silence mutes that device only.
            manager.post(
                [
                    _alert(alerts.FLAME_OUT, "glory-hole", alerts.SHOP),
                    _alert(alerts.FLAME_OUT, "furnace-1", alerts.SHOP),
                ]
            )
            paged = (alerts.FLAME_OUT, "furnace-1", "firing")
            assert receiver.wait_for(lambda n: paged in _arrived(n), ARRIVAL_TIMEOUT_S)
            assert _arrived(receiver.notified()) == {paged}
            removed = run("alerts", "unsilence", silence_id, "--site", site)
            assert (removed.exit_code, removed.output) == (0, f"removed {silence_id}\n")
            assert run("alerts", "silences", "--site", site).output == "no silences\n"
            unknown = run("alerts", "unsilence", "0" * 8 + "-0000-4000-8000-" + "0" * 12,
                          "--site", site)  # fmt: skip
            assert unknown.exit_code == 2
            assert "has no silence" in unknown.output
            assert len(unknown.output.splitlines()) == 1
        stopped = run("alerts", "silences", "--site", site)
        assert stopped.exit_code == 2
        assert stopped.output.startswith(
            f"sensor-bridge: Alertmanager is not reachable at {manager.url}"
        )
        assert len(stopped.output.splitlines()) == 1
        nodevice = run(
            "alerts", "silence", "kiln-9", "--for", "1h", "--reason", "x", "--site", site
        )
        assert nodevice.exit_code == 2
        assert "no device 'kiln-9'" in nodevice.output


def test_heartbeat_pings_irm_every_interval(tmp_path: Path, context: RenderContext) -> None:
    """IRM pages support when the pings stop: they must keep coming while the alert fires."""
    settings = FAST_PAGING.model_copy(update={"heartbeat_interval": "2s"})
    with WebhookReceiver() as receiver:
        wired = routed_to(context, receiver, settings)
        root = _tree(tmp_path / "tree", alertmanager.render(wired))
        with Alertmanager(tmp_path / "am", root) as manager:
            heartbeat = _alert(alerts.HEARTBEAT, "", alerts.SYSTEM)
            manager.post([heartbeat])  # vmalert re-sends it at every evaluation
            assert receiver.wait_for(lambda n: len(n) >= 1, ARRIVAL_TIMEOUT_S)
            manager.post([heartbeat])
            assert receiver.wait_for(lambda n: len(n) >= 3, ARRIVAL_TIMEOUT_S)
    pings = receiver.notified()
    assert {(n.path, n.status) for n in pings} == {(alertmanager.HEARTBEAT, "firing")}
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(pings)]
    assert all(1.5 < gap < 3.0 for gap in gaps), gaps
