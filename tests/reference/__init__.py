"""What Vector 0.57 and Alloy 1.18 accept in their configs, as data read from their sources
(each table names the files): neither can be installed on a test machine, so the rendered keys
are checked against these tables instead of failing on a Pi."""

from __future__ import annotations

from pathlib import Path
from typing import Union

HERE = Path(__file__).parent
VECTOR_TABLE = HERE / "vector-0.57.json"
ALLOY_TABLE = HERE / "alloy-1.18.json"

Options = dict[str, Union["Options", None]]
"""Option name → its own options (an object or a list of objects), or None for a value;
``"*"`` stands for any key (a map)."""
