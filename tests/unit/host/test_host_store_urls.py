"""``[storage]``: where every endpoint of a single node and of a cluster tenant is, and every
mistake in its URLs as one line naming it and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensor_bridge.errors import SiteError
from sensor_bridge.local.examples import SITE_EXAMPLE, example_site
from sensor_bridge.site import Storage, load_site
from sensor_bridge.store.urls import DEFAULT_URL, StoreUrls, cluster, single_node
from tests.support.cli import run

EXAMPLE = SITE_EXAMPLE.read_text()
SINGLE_LINE = f'url = "{DEFAULT_URL}"'
INSERT = "http://vminsert:8480/insert/7/prometheus"
SELECT = "http://vmselect:8481/select/7/prometheus"
CLUSTER_LINES = f'insert_url = "{INSERT}"\nselect_url = "{SELECT}"'


def _storage(tmp_path: Path, lines: str) -> StoreUrls:
    site_file = example_site(tmp_path)
    site_file.write_text(EXAMPLE.replace(SINGLE_LINE, lines, 1))
    return load_site(site_file).storage.urls


def _mistake(tmp_path: Path, lines: str) -> str:
    site_file = example_site(tmp_path)
    site_file.write_text(EXAMPLE.replace(SINGLE_LINE, lines, 1))
    with pytest.raises(SiteError) as caught:
        load_site(site_file)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{site_file}: storage")
    return message


def test_the_example_is_the_default_single_node_on_the_pi(tmp_path: Path) -> None:
    assert SINGLE_LINE in EXAMPLE
    urls = _storage(tmp_path, SINGLE_LINE)
    assert urls == Storage().urls == single_node("http://127.0.0.1:8428")
    assert (urls.local, urls.cluster, urls.port, urls.address) == (
        True,
        False,
        8428,
        "127.0.0.1:8428",
    )
    assert str(urls) == "http://127.0.0.1:8428"


def test_a_single_node_serves_every_endpoint_below_its_url() -> None:
    urls = single_node("http://127.0.0.1:9428/")
    assert (urls.insert, urls.select) == ("http://127.0.0.1:9428", "http://127.0.0.1:9428")
    assert urls.remote_write == "http://127.0.0.1:9428/api/v1/write"
    assert urls.import_json == "http://127.0.0.1:9428/api/v1/import"
    assert urls.query == "http://127.0.0.1:9428/api/v1/query"
    assert urls.export == "http://127.0.0.1:9428/api/v1/export"
    assert urls.federate == "http://127.0.0.1:9428/federate"
    assert urls.health == ("http://127.0.0.1:9428/health",)
    assert urls.flags == "http://127.0.0.1:9428/flags"
    assert urls.reset_cache == "http://127.0.0.1:9428/internal/resetRollupResultCache"
    assert urls.force_flush == "http://127.0.0.1:9428/internal/force_flush"


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:8428", True),
        ("http://127.0.0.1:8428", True),
        ("http://vm.studio.lan:8428", False),
        ("https://vm.example.org", False),
    ],
)
def test_only_a_loopback_single_node_is_the_pis_own(url: str, local: bool) -> None:
    assert single_node(url).local is local


def test_a_cluster_tenant_writes_to_vminsert_and_reads_from_vmselect(tmp_path: Path) -> None:
    urls = _storage(tmp_path, CLUSTER_LINES)
    assert (urls.cluster, urls.local, urls.tenant) == (True, False, "7")
    assert urls.remote_write == f"{INSERT}/api/v1/write"
    assert urls.import_json == f"{INSERT}/api/v1/import"
    assert urls.query == f"{SELECT}/api/v1/query"
    assert urls.export == f"{SELECT}/api/v1/export"
    assert urls.federate == f"{SELECT}/federate"
    assert urls.health == ("http://vminsert:8480/health", "http://vmselect:8481/health")
    assert urls.flags == "http://vmselect:8481/flags"
    assert urls.reset_cache == ("http://vmselect:8481/internal/resetRollupResultCache?propagate=1")
    # Only vmstorage flushes on request, and a client of the cluster does not reach it.
    assert urls.force_flush is None
    assert urls.address == "vmselect:8481"
    assert str(urls) == "tenant 7 of http://vminsert:8480 and http://vmselect:8481"


def test_one_load_balancer_for_both_has_one_health_check() -> None:
    urls = cluster("http://vm:8427/insert/3/prometheus/", "http://vm:8427/select/3/prometheus")
    assert urls.health == ("http://vm:8427/health",)
    assert urls.insert == "http://vm:8427/insert/3/prometheus"


def test_a_project_id_of_zero_is_the_account_alone() -> None:
    urls = cluster(INSERT.replace("/7/", "/7:0/"), SELECT)
    assert urls.tenant == "7"
    assert cluster(INSERT.replace("/7/", "/7:2/"), SELECT.replace("/7/", "/7:2/")).tenant == "7:2"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (
            f'url = "{INSERT}"',
            f"storage.url: '{INSERT}' is a cluster URL: set [storage] insert_url and select_url "
            "instead",
        ),
        (
            'url = "http://127.0.0.1:8428/prometheus"',
            "storage.url: 'http://127.0.0.1:8428/prometheus' is not a VictoriaMetrics URL like "
            "http://127.0.0.1:8428 (scheme, host and port, no path, no login)",
        ),
        ('url = "http://user:secret@vm:8428"', "is not a VictoriaMetrics URL like"),
        ('url = "http://vm:84280"', "is not a VictoriaMetrics URL like"),
        ('url = "127.0.0.1:8428"', "is not a VictoriaMetrics URL like"),
        (
            f'insert_url = "{INSERT}"',
            "storage: set both insert_url and select_url (a cluster tenant), or neither (the "
            "single node at url)",
        ),
        (
            f"{SINGLE_LINE}\n{CLUSTER_LINES}",
            "storage: url is a single node's: with insert_url and select_url (a cluster) leave "
            "it out",
        ),
        (
            f'insert_url = "{SELECT}"\nselect_url = "{SELECT}"',
            f"storage.insert_url: '{SELECT}' is not a vminsert URL like "
            "http://vminsert:8480/insert/7/prometheus (7: the studio's tenant)",
        ),
        (
            f'insert_url = "{INSERT}"\nselect_url = "http://vmselect:8481/select/7"',
            "storage.select_url: 'http://vmselect:8481/select/7' is not a vmselect URL like "
            "http://vmselect:8481/select/7/prometheus",
        ),
        (
            f'insert_url = "{INSERT.replace("/7/", "/studio-1/")}"\nselect_url = "{SELECT}"',
            "is not a vminsert URL like",
        ),
        (
            f'insert_url = "{INSERT.replace("/7/", "/4294967296/")}"\n'
            f'select_url = "{SELECT.replace("/7/", "/4294967296/")}"',
            "storage.insert_url: tenant 4294967296 in",
        ),
        (
            f'insert_url = "{INSERT}"\nselect_url = "{SELECT.replace("/7/", "/8/")}"',
            "storage: insert_url writes tenant 7 but select_url reads tenant 8: use the "
            "studio's one tenant in both",
        ),
    ],
)
def test_a_store_url_mistake_is_one_line(tmp_path: Path, lines: str, expected: str) -> None:
    assert expected in _mistake(tmp_path, lines)


def test_a_cluster_url_given_as_a_single_node_option_is_one_line(tmp_path: Path) -> None:
    site_file = example_site(tmp_path)
    result = run("dataflow", "--site", str(site_file), "--vm-url", INSERT)
    assert result.exit_code == 2
    assert "is a cluster URL: set [storage] insert_url and select_url instead" in result.output
    assert "Traceback" not in result.output
