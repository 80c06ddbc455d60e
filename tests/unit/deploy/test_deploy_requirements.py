"""The Pi's pip installs the host package's dependencies from deploy/host-requirements.txt with
``--require-hashes``: the file must pin every runtime dependency at the version the tests ran."""

from __future__ import annotations

import importlib.util
import sys

from sensor_bridge.local.tools import REPO_ROOT

_spec = importlib.util.spec_from_file_location(
    "requirements", REPO_ROOT / "deploy" / "requirements.py"
)
assert _spec is not None and _spec.loader is not None
requirements = importlib.util.module_from_spec(_spec)
sys.modules["deploy_requirements"] = requirements
_spec.loader.exec_module(requirements)


def test_the_pinned_list_is_what_the_tests_ran() -> None:
    text = requirements.REQUIREMENTS.read_text()
    closure = requirements.runtime_closure()
    assert requirements.pinned(text) == closure, (
        "deploy/host-requirements.txt differs from this environment: "
        "run `hatch run python deploy/requirements.py`"
    )
    assert {"pydantic", "pydantic-core", "pyyaml", "click"} <= set(closure)


def test_every_pin_carries_hashes() -> None:
    entries = requirements.REQUIREMENTS.read_text().split("==")[1:]
    assert entries
    for entry in entries:
        assert "--hash=sha256:" in entry


def test_only_wheels_for_linux_on_arm64_or_amd64_fit() -> None:
    fits = requirements.fits_the_pi
    assert fits("pydantic_core-2.50.4-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl")
    assert fits("pyyaml-6.0.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
    assert fits("click-8.5.1-py3-none-any.whl")
    assert not fits("pyyaml-6.0.3-cp313-cp313-win_amd64.whl")
    assert not fits("pyyaml-6.0.3-cp313-cp313-manylinux_2_17_armv7l.whl")
    assert not fits("pyyaml-6.0.3.tar.gz")
