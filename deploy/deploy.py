"""``hatch run deploy``: the whole host side of the stack on a Pi, from its site file.

Order: preflight → the podman base, then the packages, images and data of each service this Pi
runs → NTP → host package → site files → render + validate (stop here on any failure: nothing
live touched) → swap → restart what changed → check every service answers. A second run
changes nothing.

Host data (inventory, ``--data``): ``site_file`` (default $SENSOR_SITE, else ./site.toml),
``root`` (default /; a staging root runs only the configuration steps, records the rest),
``sensor_bridge`` (the command on the host, default /usr/local/bin/sensor-bridge),
``host_package_wheel`` (default: built from this checkout), ``apt_mirrors`` (a mirror of an apt
repository besides Debian's, with its own pinned key: ``sensor_deploy.mirrors``).
"""

import sys
from pathlib import Path

from pyinfra import host

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sensor_deploy import services
from sensor_deploy.target import target

from sensor_bridge.registry import here

this = target(host)
services.check_preflight(this)
if this.live:
    services.host_basics()
    services.podman_base(this)
    for entry in here(this.site):
        services.service(this, entry)
    services.ntp()
    services.host_package()
else:
    services.recorded_system_steps(this)
if this.upload_site:
    services.site_files(this)
services.configuration(this)
if this.live:
    services.activation(this)
