"""``sensor-bridge dataflow``: is every online device's data reaching VictoriaMetrics?

monit runs it every cycle; its exit status is the verdict (``sensor_bridge.dataflow``):
0 all flowing (or the devices are offline), 1 an online device's data is stale (monit
restarts Vector), 2 the broker or VictoriaMetrics cannot be asked.
"""

from __future__ import annotations

import json
import time

import click

from sensor_bridge.commands import SingleNodeUrl, site_option
from sensor_bridge.store.urls import StoreUrls

WINDOW = "1h"
"""How far back the newest sample is looked for; older than that reads "none"."""


@click.command()
@site_option
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@click.option(
    "--vm-url",
    type=SingleNodeUrl(),
    default=None,
    help="A VictoriaMetrics single node to ask. Default: the site's [storage].",
)
@click.option(
    "--broker",
    default=None,
    metavar="HOST:PORT",
    help="The broker. Default: the site's listener (127.0.0.1 when it listens everywhere).",
)
def dataflow(
    site_file: str | None, as_json: bool, vm_url: StoreUrls | None, broker: str | None
) -> None:
    """One line per device: online or not (the broker's retained status), the age of its
    newest sample, and the verdict.

    \b
    Exit status (monit acts on it):
      0  every online device's data is fresh, or the device is offline / never connected
         (an alert for people, not a pipeline fault)
      1  a device is online on the broker but its newest sample is older than the site's
         monit.stale_after: the pipeline stalled (monit restarts Vector)
      2  cannot check: the broker or VictoriaMetrics does not answer, or the site is broken
    """
    from sensor_bridge import dataflow as verdicts
    from sensor_bridge.alerting import durations
    from sensor_bridge.mqtt_accounts import DATAFLOW_USER, login
    from sensor_bridge.observe import newest_sample_ages, retained_states
    from sensor_bridge.render.mosquitto import broker_host
    from sensor_bridge.site import load_secrets, load_site
    from sensor_bridge.store.client import Store
    from sensor_protocol.topics import STATUS, build_topic

    site = load_site(site_file)
    secrets = load_secrets(site)
    host, port = broker_host(site), site.broker.plain_port
    if broker is not None:
        host, _, port_text = broker.rpartition(":")
        if not host or not port_text.isdigit():
            raise click.BadParameter("use HOST:PORT, e.g. 127.0.0.1:1883", param_hint="--broker")
        port = int(port_text)
    topics = {d.id: build_topic(site.topic_root, site.studio, d.id, STATUS) for d in site.devices}
    auth = login(secrets, DATAFLOW_USER)
    states = retained_states(host, port, auth, topics, timeout=10.0)
    store = Store(vm_url or site.storage.urls)
    ages = newest_sample_ages(store, site.studio, WINDOW, time.time())
    stale_after_s = durations.seconds(site.monit.stale_after)
    flows = [
        verdicts.assess(d.id, states.get(d.id, verdicts.UNKNOWN), ages.get(d.id), stale_after_s)
        for d in site.devices
    ]
    if as_json:
        click.echo(json.dumps(verdicts.as_json(flows, stale_after_s)))
    else:
        for flow in flows:
            click.echo(verdicts.describe(flow, WINDOW))
    raise SystemExit(verdicts.exit_code(flows))
