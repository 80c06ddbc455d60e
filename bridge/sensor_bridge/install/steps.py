"""The deploy's steps on the host, as the ``sensor-bridge deploy`` subcommands run them.

Each returns data for the command to print; none prints a secret (only paths, and checker
details with every secret value masked).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sensor_bridge.checks import CheckResult
from sensor_bridge.install import container_tools, swap, validation
from sensor_bridge.install.activation import Activation, activation_for, removed_units
from sensor_bridge.install.changes import Change, changes, render_against_live
from sensor_bridge.install.layout import Layout
from sensor_bridge.install.ownership import owner
from sensor_bridge.install.redaction import redact
from sensor_bridge.render import RenderedFile
from sensor_bridge.site import load_secrets, load_site
from sensor_bridge.tree import render_site


@dataclass(frozen=True)
class Plan:
    changes: list[Change]
    activation: Activation

    @classmethod
    def of(cls, found: list[Change]) -> Plan:
        return cls(found, activation_for((c.file.path, c.file.service) for c in found))

    def as_json(self) -> dict[str, Any]:
        return {
            "changed": [{"path": str(c.file.path), "status": c.status} for c in self.changes],
            "activation": self.activation.as_json(),
        }


def plan(site_file: str | os.PathLike[str], layout: Layout) -> Plan:
    """What a deploy would change and activate; writes nothing."""
    site = load_site(site_file)
    return Plan.of(changes(render_against_live(site_file, layout), layout, site))


@dataclass(frozen=True)
class Validation:
    plan: Plan
    results: list[CheckResult]
    failures: list[CheckResult]


def stage(
    site_file: str | os.PathLike[str], layout: Layout, *, every_tool: bool, in_containers: bool
) -> Validation:
    """Render into staging and check the changed services; mark them validated if they pass."""
    site = load_site(site_file)
    secrets = load_secrets(site)
    files = render_against_live(site_file, layout)
    found = changes(files, layout, site)
    current = Plan.of(found)
    swap.stage(layout, files)
    changed = [c.file for c in found]
    if in_containers:
        container_tools.install(layout.tools, site, [layout.staging])
        with validation.tools_first_on_path(layout.tools):
            results = validation.run_checks(layout.staging, files, changed)
    else:
        results = validation.run_checks(layout.staging, files, changed)
    results = [
        CheckResult(r.file, r.tool, r.version, r.result, redact(r.detail, secrets, site))
        for r in results
    ]
    failed = validation.failures(results, every_tool=every_tool)
    if not failed:
        swap.mark_validated(layout, files)
    return Validation(current, results, failed)


def swap_validated(site_file: str | os.PathLike[str], layout: Layout) -> Plan:
    """The validated staging tree into place; the record says what changed and what restarts."""
    site = load_site(site_file)
    # Staging first: a new password file keeps the hashes (and salts) that were validated.
    files = render_site(site_file, [layout.staging, layout.root])
    found = changes(files, layout, site)
    swap.check_validated(layout, found)
    swap.swap(layout, found, site)
    done = Plan.of(found)
    if found:
        owners = {str(c.file.path): ":".join(owner(c.file.path, site)) for c in found}
        write_record(layout, "swap", done, owners)
    return done


def rollback(layout: Layout, *, dry: bool) -> Plan:
    """Restore the previous set (or, ``dry``, say what would be restored)."""
    entries = swap.rollback_plan(layout) if dry else swap.rollback(layout)
    restored = [(PurePosixPath(e["path"]), str(e["service"])) for e in entries]
    # A quadlet the swap created goes away: its unit is stopped (seen on a Debian 13 host: the
    # rollback of a first deploy restarted a unit the daemon-reload had just removed, "Unit
    # victoriametrics.service not found", and the deploy stopped there).
    removed = removed_units(PurePosixPath(e["path"]) for e in entries if not e["existed"])
    done = Plan(
        [Change(RenderedFile(path, "", service=service), "restored") for path, service in restored],
        activation_for(restored).stopping(removed),
    )
    if entries and not dry:
        write_record(layout, "rollback", done, {})
    return done


PENDING = "pending-activation.json"
"""What a swap or rollback left for pyinfra to restart; removed once the restarts ran."""


def write_record(layout: Layout, action: str, done: Plan, owners: dict[str, str]) -> None:
    """The run record (what changed, owners, restarts) and the pending activation, merged
    with one a stopped deploy left behind."""
    record: dict[str, Any] = {"action": action, **done.as_json(), "owners": owners}
    _write(layout.record, json.dumps(record, indent=2, sort_keys=True) + "\n")
    pending_path = layout.state / PENDING
    pending = done.activation
    if pending_path.is_file():
        pending = Activation.from_json(json.loads(pending_path.read_text())).merged(pending)
    _write(pending_path, json.dumps(pending.as_json(), indent=2, sort_keys=True) + "\n")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
