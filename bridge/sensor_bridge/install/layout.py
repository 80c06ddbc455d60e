"""Where the deploy keeps things on a host, all under one root.

The root is ``/`` on the Pi. Tests give a temp dir: every path (live files, staging tree,
previous set, run record) then lives under it, and nothing outside it is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

STATE_DIR = PurePosixPath("var/lib/sensor-pipeline/deploy")
SITE_DIR = PurePosixPath("etc/sensor-pipeline")
"""Where the deploy installs the site and secrets files (monit's data-flow check reads them)."""


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def is_live(self) -> bool:
        """The real system: owners are set and units are restarted, not only recorded."""
        return self.root.resolve() == Path("/")

    def live(self, path: PurePosixPath) -> Path:
        """A rendered file's place on the host."""
        return self.root / path

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def staging(self) -> Path:
        """The rendered tree being validated; mirrors ``/``."""
        return self.state / "staging"

    @property
    def previous(self) -> Path:
        """The files the last swap replaced, and its manifest: what rollback restores."""
        return self.state / "previous"

    @property
    def record(self) -> Path:
        """What the last swap or rollback changed and which units it restarts (JSON)."""
        return self.state / "last-run.json"

    @property
    def tools(self) -> Path:
        """Wrappers that run container-only tools (vector, vmalert, ...) in their images."""
        return self.state / "tools"
