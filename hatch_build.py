"""The wheel's ``sensor_firmware/`` tree: the firmware and board files the pyproject lists, and
nothing git-ignored among them.

A forced include of ``firmware/`` or ``boards/`` would take the whole directory, including a
board's real ``settings.toml`` (Wi-Fi and MQTT passwords) or a virtual board's ``.virtual/nvm``
left there, into a wheel the deploy installs world-readable.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

TREE = "sensor_firmware"


class FirmwareTree(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        # Copies go in, not the files themselves: hatchling leaves a force-included file out of
        # the packages' own files, and firmware/lib/sensor_protocol and sensor_node are packages
        # of the wheel too (the host imports them). Including the originals left both out of
        # the wheel: `sensor-bridge` failed on a Debian 13 host with "No module named
        # 'sensor_protocol'".
        self.copies = Path(tempfile.mkdtemp(prefix="sensor-firmware-tree-"))
        for pattern in self.config["firmware-files"]:
            matched = sorted(p for p in root.glob(pattern) if p.is_file())
            if not matched:
                raise FileNotFoundError(f"firmware-files: nothing matches {pattern}")
            for path in matched:
                relative = path.relative_to(root).as_posix()
                # The same exclusions (.gitignore among them) as the packages' own files.
                if not self.build_config.path_is_excluded(relative):
                    copy = self.copies / relative
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, copy)
                    build_data["force_include"][str(copy)] = f"{TREE}/{relative}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        shutil.rmtree(self.copies, ignore_errors=True)
