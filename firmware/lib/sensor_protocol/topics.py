"""
`sensor_protocol.topics`
================================================================================
Topics are ``{root}/{studio}/{device}/{channel}``. Ids use ``[a-z0-9_-]`` only, so a
topic never holds an MQTT wildcard, a level separator or a character an ACL pattern
would treat specially.
"""

from sensor_protocol.limits import MAX_ID_LENGTH

try:
    from typing import Tuple
except ImportError:
    pass

DEFAULT_ROOT = "furnace"

TELEMETRY = "telemetry"
"""Live readings, QoS 1."""
BACKFILL = "backfill"
"""Readings replayed after an outage, in batches, QoS 1."""
HEALTH = "health"
"""Device health every minute."""
STATUS = "status"
"""Retained: birth JSON on connect, last will ``offline``."""

CHANNELS = (TELEMETRY, BACKFILL, HEALTH, STATUS)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-"


class TopicError(ValueError):
    """A topic or id does not follow the contract. The message names the bad part."""


def id_problem(value: object) -> "str | None":
    """Why ``value`` is not a valid id, or None when it is one."""
    if not isinstance(value, str):
        return "must be a string"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH:
        return "is longer than %d characters" % MAX_ID_LENGTH
    for char in value:
        if char not in _ID_CHARS:
            return "has %r; use only a-z, 0-9, '_' and '-'" % char
    return None


def validate_id(value: object, what: str = "id") -> str:
    """Return ``value`` if it is a valid id, else raise TopicError naming ``what``."""
    problem = id_problem(value)
    if problem is not None:
        raise TopicError("%s %r %s" % (what, value, problem))
    return value  # type: ignore[return-value]


def build_topic(root: str, studio: str, device: str, channel: str) -> str:
    """The topic ``channel`` of ``device`` in ``studio``."""
    validate_id(root, "root")
    validate_id(studio, "studio")
    validate_id(device, "device")
    if channel not in CHANNELS:
        raise TopicError("channel %r is not one of %s" % (channel, ", ".join(CHANNELS)))
    return "/".join((root, studio, device, channel))


def parse_topic(topic: str) -> "Tuple[str, str, str, str]":
    """Split a device topic into ``(root, studio, device, channel)``, validating each part."""
    parts = topic.split("/")
    if len(parts) != 4:
        raise TopicError("topic %r must have 4 levels: root/studio/device/channel" % topic)
    root, studio, device, channel = parts
    build_topic(root, studio, device, channel)
    return root, studio, device, channel


def device_filter(root: str, studio: str, device: str = "+") -> str:
    """Subscription filter for every channel of one device (or of all, with ``+``)."""
    validate_id(root, "root")
    validate_id(studio, "studio")
    if device != "+":
        validate_id(device, "device")
    return "/".join((root, studio, device, "+"))
