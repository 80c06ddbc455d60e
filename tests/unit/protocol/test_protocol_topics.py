"""Topics: ``{root}/{studio}/{device}/{channel}``, ids ``[a-z0-9_-]``, validated both ways."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensor_protocol import topics
from sensor_protocol.limits import MAX_ID_LENGTH
from sensor_protocol.topics import TopicError, build_topic, device_filter, parse_topic
from tests.unit.protocol.strategies import ids


@given(root=ids, studio=ids, device=ids, channel=st.sampled_from(topics.CHANNELS))
def test_build_then_parse_gives_the_parts_back(root, studio, device, channel):
    topic = build_topic(root, studio, device, channel)

    assert topic == f"{root}/{studio}/{device}/{channel}"
    assert parse_topic(topic) == (root, studio, device, channel)


def test_channels_are_the_four_of_the_contract():
    assert topics.CHANNELS == ("telemetry", "backfill", "health", "status")


def test_default_root_is_a_valid_id():
    assert topics.validate_id(topics.DEFAULT_ROOT) == "furnace"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must not be empty"),
        ("a" * (MAX_ID_LENGTH + 1), f"longer than {MAX_ID_LENGTH}"),
        ("Kiln", "'K'"),
        ("kiln 1", "' '"),
        ("kiln/1", "'/'"),
        ("kiln+", "'+'"),
        ("kiln#", "'#'"),
        ("kiln.1", "'.'"),
        ("ofen-ä", "'ä'"),
        (7, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_a_bad_id_is_refused_with_its_problem(value, problem):
    found = topics.id_problem(value)

    assert found is not None
    assert problem in found


@given(ids)
def test_every_id_of_the_alphabet_is_valid(value):
    assert topics.id_problem(value) is None


@pytest.mark.parametrize(
    ("parts", "named"),
    [
        (("Furnace", "studio", "dev", "telemetry"), "root"),
        (("furnace", "St", "dev", "telemetry"), "studio"),
        (("furnace", "studio", "de+v", "telemetry"), "device"),
        (("furnace", "studio", "dev", "readings"), "channel"),
        (("furnace", "", "dev", "status"), "studio"),
    ],
)
def test_build_names_the_bad_part(parts, named):
    with pytest.raises(TopicError, match=f"^{named} "):
        build_topic(*parts)


@pytest.mark.parametrize(
    ("topic", "named"),
    [
        ("furnace/studio/dev", "4 levels"),
        ("furnace/studio/dev/telemetry/extra", "4 levels"),
        ("furnace/studio/dev/telemetry/", "4 levels"),
        ("/furnace/studio/dev", "root"),
        ("furnace/studio/+/telemetry", "device"),
        ("furnace/#/dev/telemetry", "studio"),
        ("furnace/studio/dev/TELEMETRY", "channel"),
    ],
)
def test_parse_refuses_what_build_would_not_make(topic, named):
    with pytest.raises(TopicError, match=named):
        parse_topic(topic)


def test_topic_error_is_a_value_error():
    assert issubclass(TopicError, ValueError)


def test_device_filter_covers_every_channel_of_one_device_or_all():
    assert device_filter("furnace", "studio", "dev") == "furnace/studio/dev/+"
    assert device_filter("furnace", "studio") == "furnace/studio/+/+"
    with pytest.raises(TopicError, match="device"):
        device_filter("furnace", "studio", "#")
