"""Options and fixtures of the HIL suite. ``tests/conftest.py`` leaves this directory out of
a run without ``--port``, so ``hatch run test`` collects it only through the CI test that
starts the virtual board (tests/integration/hil)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from sensor_bridge import tls
from sensor_bridge.errors import BridgeError
from sensor_bridge.mqtt_accounts import OBSERVER_USER, STATUS_USER, login
from sensor_bridge.site import Site, load_secrets, load_site
from tests.hil.bench import Bench, Boot, Options
from tests.hil.broker_watch import BrokerAccess, BrokerWatch
from tests.hil.report import Report
from tests.hil.serial_board import BoardError, SerialBoard

REPORT = pytest.StashKey[Report]()
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hardware-in-the-loop (tests/hil)")
    add = group.addoption
    add("--port", help="the board's serial console: /dev/ttyACM0, or the virtual board's pty")
    add("--site", help="site file: broker, studio, devices (default $SENSOR_SITE or site.toml)")
    add("--device", help="the device id on the board (default: the site's only device)")
    add(
        "--broker",
        help="broker host as this machine reaches it, a name its TLS certificate holds "
        "(default: from the site file)",
    )
    add("--broker-stop", metavar="CMD", help="command that stops the broker (outage case)")
    add("--broker-start", metavar="CMD", help="command that starts it again")
    add("--outage", type=float, metavar="S", help="how long the broker stays stopped")
    add(
        "--reset-cmd",
        metavar="CMD",
        help="command that resets the board (a reset pin, a power switch); default: "
        "microcontroller.reset() from the REPL",
    )
    add(
        "--drive",
        metavar="PATH",
        help="the board's CIRCUITPY as mounted here: the settings case writes settings.toml "
        "there (code on the board cannot while USB has the drive)",
    )
    add("--manual", action="store_true", help="run the cases that need a person at the bench")
    add("--soak", type=float, metavar="HOURS", help="collect health for HOURS and judge it")
    add("--loop-budget", type=float, default=6.0, metavar="S", help="longest loop allowed")
    add("--settle", type=float, default=10.0, metavar="S", help="watch for a crash loop this long")
    add("--boot-bound", type=float, default=30.0, metavar="S", help="soft reboot to birth, max")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help"):
        return
    if not config.getoption("port"):
        raise pytest.UsageError(
            "the HIL suite needs the board's serial port: --port /dev/ttyACM0 (or the virtual "
            "board's pty from `sensor-bridge virtual-board`)"
        )
    config.stash[REPORT] = Report(config.getoption("port"))
    config.addinivalue_line(
        "markers",
        "needs(case, options, reason): run only when every named option is given; otherwise "
        "the case is left out and the HIL report says why",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Cases that need bench equipment or a person are collected only when their options say
    the bench has them; the report lists the others as not run, with the option to pass."""
    report = config.stash[REPORT]
    kept, left_out = [], []
    for item in items:
        needs = item.get_closest_marker("needs")
        if needs is None or all(config.getoption(name) for name in needs.args[1]):
            kept.append(item)
            continue
        case, _, reason = needs.args
        report.not_run(case, reason)
        left_out.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    report = config.stash.get(REPORT, None)
    if report is None:
        return
    terminalreporter.section("HIL report")
    for line in report.lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def report(pytestconfig: pytest.Config) -> Report:
    return pytestconfig.stash[REPORT]


def _options(config: pytest.Config) -> Options:
    drive = config.getoption("drive")
    return Options(
        port=config.getoption("port"),
        device=config.getoption("device"),
        broker_stop=config.getoption("broker_stop"),
        broker_start=config.getoption("broker_start"),
        outage_s=config.getoption("outage"),
        reset_cmd=config.getoption("reset_cmd"),
        drive=Path(drive) if drive else None,
        manual=config.getoption("manual"),
        soak_hours=config.getoption("soak"),
        loop_budget_s=config.getoption("loop_budget"),
        settle_s=config.getoption("settle"),
        boot_bound_s=config.getoption("boot_bound"),
    )


def _broker_access(config: pytest.Config, site: Site, device_id: str) -> BrokerAccess:
    secrets = load_secrets(site)
    host = config.getoption("broker")
    if not host:
        address = site.broker.device_address or site.broker.address
        host = "127.0.0.1" if address in WILDCARD_ADDRESSES else address
    return BrokerAccess(
        host=host,
        port=site.broker.port,
        watcher=login(secrets, OBSERVER_USER),
        prober=login(secrets, STATUS_USER),
        prefix=f"{site.topic_root}/{site.studio}/{device_id}",
        ca_file=secrets.path.parent / tls.CA_CERT_FILE,
    )


def _device_id(site: Site, option: str | None) -> str:
    if option:
        return site.device(option).id
    if len(site.devices) != 1:
        raise BridgeError(
            f"{site.path} has {len(site.devices)} devices: name the one on the board with --device"
        )
    return site.devices[0].id


@pytest.fixture(scope="session")
def bench(pytestconfig: pytest.Config, report: Report) -> Iterator[Bench]:
    options = _options(pytestconfig)
    try:
        site = load_site(pytestconfig.getoption("site"))
        device_id = _device_id(site, options.device)
        access = _broker_access(pytestconfig, site, device_id)
    except BridgeError as error:
        pytest.exit(f"HIL suite: {error}", returncode=2)
    try:
        watch = BrokerWatch(access).start()
    except (OSError, TimeoutError) as error:
        pytest.exit(
            f"HIL suite: cannot watch the broker at {access.host}:{access.port} as "
            f"{access.watcher[0]}: {error} (is it running? --broker names its host)",
            returncode=2,
        )
    try:
        board = SerialBoard(options.port).open()
    except serial.SerialException as error:
        watch.close()
        pytest.exit(f"HIL suite: cannot open the board's port: {error}", returncode=2)
    bench = Bench(options, board, watch, report)
    try:
        bench.repl()
        try:
            bench.learn()
        except BoardError as error:
            pytest.exit(
                f"HIL suite: the board could not say what it is: {str(error).splitlines()[-1]}",
                returncode=2,
            )
        expected_board = site.device(device_id).board
        if bench.facts["board"] != expected_board:
            pytest.exit(
                f"HIL suite: the board on {options.port} is a {bench.facts['board']}, but the "
                f"site file gives {device_id} board {expected_board}",
                returncode=2,
            )
        settings = bench.settings
        found = f"{settings['MQTT_TOPIC_ROOT']}/{settings['STUDIO_ID']}/{settings['DEVICE_ID']}"
        if found != access.prefix:
            pytest.exit(
                f"HIL suite: the board on {options.port} publishes as {found}, but the site file "
                f"says {access.prefix}: provision it for this site, or pass --device/--site",
                returncode=2,
            )
        yield bench
    finally:
        try:
            bench.running()
        finally:
            watch.close()
            board.close()


@pytest.fixture(scope="session")
def first_boot(bench: Bench) -> Boot:
    """The suite's first soft reboot of the board (the boot case judges it)."""
    if not bench.at_repl:
        bench.repl()
    return bench.reboot()
