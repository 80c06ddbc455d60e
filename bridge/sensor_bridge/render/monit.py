"""monit (Debian package, runs as root): local self-healing, and nothing else.

Two files: ``/etc/monit/monitrc`` (replacing Debian's: the cycle, the web interface on
127.0.0.1 only with the password from the secrets file, M/Monit when the site names one) and
``/etc/monit/conf.d/sensor-pipeline`` (the checks). Both mode 0600: monit refuses a control
file readable by others, and the first holds passwords.

Choices:

* Local notifications are off: no ``set mailserver``, no ``set alert``. Alerts reach people
  through vmalert → Alertmanager → IRM; ``alert`` actions here only show in ``monit status``
  and, when configured, in M/Monit.
* A service that stays down is restarted with ``exec`` and ``repeat every`` rather than monit's
  ``restart`` action: ``restart`` fires again on every cycle while the test still fails, so a
  service that needs longer than one cycle to come up (VictoriaMetrics opening its data on a
  Pi) would be killed over and over. systemd starts and stops the services; monit only nudges.
* Rootless units (the containers) are restarted through the service user's manager:
  ``systemctl --user --machine=USER@.host restart NAME.service``.
* The data-flow check runs ``sensor-bridge dataflow``; its exit status 1 (an online device's
  data is stale) restarts Vector, 2 (cannot check) is only reported, 0 does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from sensor_bridge.errors import SiteError
from sensor_bridge.registry import MONIT, VECTOR, Package, Service, here
from sensor_bridge.render import RenderContext, RenderedFile
from sensor_bridge.site import Secrets, Site

NAME = MONIT.name
CONTROL_PATH = PurePosixPath("etc/monit/monitrc")
CHECKS_PATH = PurePosixPath("etc/monit/conf.d/sensor-pipeline")
HTTPD_USER = "admin"
DATAFLOW_CHECK = "dataflow"

CONTAINER_FOR_CYCLES = 3
"""A container may need this many cycles to answer after a start."""
SYSTEM_FOR_CYCLES = 2
REPEAT_CYCLES = 5
"""While a service stays down, monit asks again for a restart this often."""
DATAFLOW_REPEAT_CYCLES = 10
"""Vector restarted and the data still stale: try again after this many cycles, not at once."""
DATAFLOW_TIMEOUT_S = 60
LOAD_PER_CORE = 2
LOAD_FOR_CYCLES = 10
PI_FOR_CYCLES = 5
INODE_PERCENT = 90
THERMAL_ZONE = "/sys/class/thermal/thermal_zone0/temp"

HEADER = "# Rendered by sensor-bridge from the site file; edits here are overwritten."
_QUOTABLE = re.compile(r'^[^"\s]+$')


@dataclass(frozen=True)
class Options:
    """Where monit runs and what it calls; the defaults are the Pi's. Tests change them to run
    a real monit in a temp dir without touching the system."""

    cycle_s: int = 30
    start_delay_s: int = 120
    """After boot, services get this long to start before the first check."""
    httpd_port: int = 2812
    state_dir: str = "/var/lib/monit"
    log: str = "/var/log/monit.log"
    pid_file: str = "/run/monit.pid"
    include_dir: str = "/etc/monit/conf.d"
    sensor_bridge: str = "/usr/local/bin/sensor-bridge"
    systemctl: str = "/usr/bin/systemctl"


def render(context: RenderContext) -> list[RenderedFile]:
    site, secrets = context.site, context.secrets
    return [
        RenderedFile(
            CONTROL_PATH,
            control_file(site, secrets),
            mode=0o600,
            secret=True,
            check=NAME,
            service=NAME,
        ),
        RenderedFile(CHECKS_PATH, checks(site), mode=0o600, check=NAME, service=NAME),
    ]


def watched(site: Site) -> list[Service]:
    """Every service monit checks: those this Pi runs for ``site`` with a health check, in the
    registry's order."""
    return [service for service in here(site) if service.health is not None]


def address(site: Site) -> str:
    return f"127.0.0.1:{Options().httpd_port}"


def control_file(site: Site, secrets: Secrets, options: Options = Options()) -> str:
    """``monitrc``: the cycle, the web interface, M/Monit; the checks are included."""
    password = secrets.monit.httpd_password
    if not password:
        raise SiteError(
            f'{secrets.path}: no password for monit\'s web interface: add httpd_password = "..." '
            "under [monit]"
        )
    lines = [
        HEADER,
        "",
        f"set daemon {options.cycle_s} with start delay {options.start_delay_s}",
        f"set log {options.log}",
        f"set idfile {options.state_dir}/id",
        f"set statefile {options.state_dir}/state",
        f"set pidfile {options.pid_file}",
        "",
        "# Local notifications are off (no mail server, no `set alert`): people hear from",
        "# vmalert through Alertmanager; monit only repairs.",
        "",
        "# `monit status` and `monit summary` talk to this; loopback only.",
        f"set httpd port {options.httpd_port} and use address 127.0.0.1",
        "    allow 127.0.0.1",
        f'    allow {HTTPD_USER}:"{password}"',
    ]
    if site.monit.mmonit_url is not None:
        lines += ["", *_mmonit(site, secrets, options)]
    lines += ["", f"include {options.include_dir}/*"]
    return "\n".join(lines) + "\n"


def _mmonit(site: Site, secrets: Secrets, options: Options) -> list[str]:
    user, password = secrets.monit.mmonit_user, secrets.monit.mmonit_password
    if not user or not password:
        raise SiteError(
            f"{secrets.path}: the site reports to M/Monit: add mmonit_user and mmonit_password "
            "under [monit]"
        )
    scheme, _, rest = str(site.monit.mmonit_url).partition("://")
    return [
        "# Status and events go to M/Monit; they wait here while it is unreachable.",
        f"set eventqueue basedir {options.state_dir}/events slots 100",
        f"set mmonit {scheme}://{user}:{password}@{rest}",
    ]


def checks(site: Site, options: Options = Options()) -> str:
    """The conf.d file: every service, the Pi itself, and the data-flow check."""
    blocks = [HEADER]
    blocks += [_service_check(service, site, options) for service in watched(site)]
    blocks += [_system_checks(site), dataflow_check(site, options)]
    return "\n\n".join(blocks) + "\n"


def restart_command(service: Service, site: Site, options: Options) -> str:
    user = f" --user --machine={site.service_user.name}@.host" if service.user else ""
    return f"{options.systemctl}{user} restart {service.unit}"


def _service_check(service: Service, site: Site, options: Options) -> str:
    host, _, port = service.address.load()(site).rpartition(":")
    restart = (
        f'exec "{restart_command(service, site, options)}" repeat every {REPEAT_CYCLES} cycles'
    )
    health = service.health
    if health is None or health.path is None:
        probe = "type tcp"
    else:
        probe = f'protocol http request "{health.path}"'
        if health.content is not None:
            probe += f' with content = "{health.content}"'
    process = service.runs.process if isinstance(service.runs, Package) else None
    if process is None:
        kind = "a rootless container of the service user"
        head = f"check host {service.name} with address {host}"
        test = f"if failed port {port} {probe}"
        cycles = CONTAINER_FOR_CYCLES
        rules = [f"    {test} for {cycles} cycles then {restart}"]
    else:
        kind = "a system service"
        head = f"check process {service.name} {process}"
        cycles = SYSTEM_FOR_CYCLES
        rules = [
            f"    if does not exist for {cycles} cycles then {restart}",
            f"    if failed host {host} port {port} {probe} for {cycles} cycles then {restart}",
        ]
    return "\n".join([f"# {service.name}: {kind} ({service.unit}).", head, *rules])


def _system_checks(site: Site) -> str:
    limits = site.alerts
    memory = round(100 - limits.memory_available_percent)
    disk = round(100 - limits.disk_free_percent)
    millidegrees = round(limits.pi_temperature_c * 1000)
    # awk prints the SoC temperature (shown in `monit status`) and fails above the limit; monit
    # splits the path on blanks, so the program has none.
    awk = f"/usr/bin/awk {{print($1/1000);exit($1>={millidegrees})}} {THERMAL_ZONE}"
    return "\n".join(
        [
            "# The Pi itself: reported (monit status, M/Monit); vmalert pages on the same limits.",
            "check system $HOST",
            f"    if memory usage > {memory}% for {PI_FOR_CYCLES} cycles then alert",
            f"    if loadavg (5min) per core > {LOAD_PER_CORE} for {LOAD_FOR_CYCLES} cycles "
            "then alert",
            "",
            "check filesystem rootfs with path /",
            f"    if space usage > {disk}% for {PI_FOR_CYCLES} cycles then alert",
            f"    if inode usage > {INODE_PERCENT}% for {PI_FOR_CYCLES} cycles then alert",
            "",
            f'check program soc-temperature with path "{awk}"',
            f"    if status != 0 for {PI_FOR_CYCLES} cycles then alert",
        ]
    )


def dataflow_command(site: Site, options: Options) -> str:
    site_file = str(site.path.absolute())
    if not _QUOTABLE.match(site_file):
        raise SiteError(
            f"{site_file}: monit splits a program's path on blanks: keep the site file on a "
            "path without blanks or quotes"
        )
    return f"{options.sensor_bridge} dataflow --site {site_file}"


def dataflow_check(site: Site, options: Options = Options()) -> str:
    """The ``check program`` block of ``sensor-bridge dataflow``."""
    restart = restart_command(VECTOR, site, options)
    return "\n".join(
        [
            "# The data flow: exit 1 = a device the broker says is online has no fresh samples",
            "# (the pipeline stalled): restart Vector. Exit 2 = cannot tell (broker or",
            "# VictoriaMetrics down: their own checks restart them). Exit 0: flowing, or the",
            "# device is offline, which is an alert for people, not a pipeline fault.",
            f'check program {DATAFLOW_CHECK} with path "{dataflow_command(site, options)}" '
            f"with timeout {DATAFLOW_TIMEOUT_S} seconds",
            # At once: the check itself waited stale_after, and the stall alert pages soon.
            f'    if status = 1 then exec "{restart}" repeat every {DATAFLOW_REPEAT_CYCLES} cycles',
            "    if status > 1 for 2 cycles then alert",
        ]
    )
