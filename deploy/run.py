"""``hatch run deploy|rollback [-- ARGS]``: pyinfra on this Pi, with ``-y`` unless ``--dry``.

pyinfra skips change detection under ``-y``, so ``--dry -y`` would print no plan: the plan
needs ``--dry`` alone. Other arguments (``--diff``, ``--data site_file=...``, ``-v``) pass
through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENTRIES = ("deploy", "rollback")


def pyinfra_argv(entry: str, args: Sequence[str], *, as_root: bool) -> list[str]:
    """The pyinfra command line of ``entry`` (deploy or rollback) for the local Pi; through
    sudo unless already root (a root shell may have no sudo at all)."""
    if entry not in ENTRIES:
        raise SystemExit(f"usage: run.py {'|'.join(ENTRIES)} [pyinfra arguments]")
    argv = [sys.executable, "-m", "pyinfra", str(HERE / "inventory.py"), str(HERE / f"{entry}.py")]
    argv += [*([] if as_root else ["--sudo"]), *args]
    if "--dry" not in args:
        argv.append("-y")
    return argv


if __name__ == "__main__":
    entry = sys.argv[1] if len(sys.argv) > 1 else ""
    argv = pyinfra_argv(entry, sys.argv[2:], as_root=os.geteuid() == 0)
    os.execv(argv[0], argv)
