"""Container image references: the grammar the site accepts, and the form podman is given.

A tag names whatever the registry serves under it that day; a digest names one image for ever.
The deploy runs images by digest only (it pins a tag to its digest once, in the site file), so
every Pi deployed from one site file runs the very same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The grammar of github.com/distribution/reference (reference.go), restricted to what a deploy
# can trust: the registry is named (no short-name lookup, which asks registries.conf), and a tag
# or a sha256 digest says which image (a bare name means whatever "latest" is that day).
_REGISTRY = r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)(?::[0-9]+)?"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REFERENCE = re.compile(
    rf"(?P<registry>{_REGISTRY})/(?P<repository>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{DIGEST.pattern}))?"
)
_NAME_MAX = 255
"""reference.go's NameTotalLengthMax."""


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def for_podman(self) -> str:
        """By digest alone when there is one: containers/image refuses a reference with both
        (docker/docker_transport.go, newReference: "Docker references with both a tag and
        digest are currently not supported"); the tag stays in the site file for people."""
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag}"

    def pinned_to(self, digest: str) -> str:
        """This reference with ``digest`` (its tag kept), as the site file then says it."""
        return f"{self.name}:{self.tag}@{digest}" if self.tag else f"{self.name}@{digest}"


def parse(value: str) -> ImageReference:
    """``value`` as a reference; ``ValueError`` with the expected form if it is not one."""
    found = _REFERENCE.fullmatch(value)
    if (
        found is None
        or not (found["tag"] or found["digest"])
        or len(found["registry"]) + 1 + len(found["repository"]) > _NAME_MAX
    ):
        raise ValueError(
            f"{value!r} is not an image reference like docker.io/vendor/name:tag or "
            "docker.io/vendor/name:tag@sha256:<64 hex digits>"
        )
    return ImageReference(found["registry"], found["repository"], found["tag"], found["digest"])


def for_podman(value: str) -> str:
    """What podman pulls and runs for the site's ``value``."""
    return parse(value).for_podman
