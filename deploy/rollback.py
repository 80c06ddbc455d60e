"""``hatch run rollback``: put back the files the last deploy replaced, restart their services.

The same host data as deploy.py. One rollback undoes one swap; deploying the unchanged site
file again re-applies it, so fix the site file before the next deploy.
"""

import sys
from pathlib import Path

from pyinfra import host

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sensor_deploy import services
from sensor_deploy.target import target

this = target(host)
services.rollback(this)
if this.live:
    services.activation(this)
