"""Who owns each rendered file once it is live.

Files under the service user's home are that user's (its rootless podman and user manager read
them). Three secrets are read by daemons that drop to their own Debian user before opening them:
Mosquitto's password file and TLS key, and Alertmanager's config (it holds the IRM URLs and their
tokens).
Everything else is root's; the renderer's mode says who else may read it.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from sensor_bridge.render import alertmanager, mosquitto, user_path
from sensor_bridge.site import Site

ROOT = ("root", "root")
_DAEMON_OWNED = {
    mosquitto.PASSWD_PATH: ("mosquitto", "mosquitto"),
    mosquitto.KEY_PATH: ("mosquitto", "mosquitto"),
    alertmanager.CONFIG_PATH: ("prometheus", "prometheus"),
}


def owner(path: PurePosixPath, site: Site) -> tuple[str, str]:
    """(user, group) of the live file at ``path`` (relative to ``/``)."""
    if path.is_relative_to(user_path(site)):
        name = site.service_user.name
        return (name, name)
    return _DAEMON_OWNED.get(path, ROOT)
