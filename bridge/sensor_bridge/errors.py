"""Errors the host side raises for a user to read.

* ``BridgeError``: a problem a user can fix; the CLI prints its one-line message, no traceback.
    * ``SiteError``: the site or secrets file is missing, malformed or incomplete.
"""


class BridgeError(Exception):
    """A problem the user can fix; the message names it and the fix in one line."""


class SiteError(BridgeError):
    """The site or secrets file is missing, malformed or incomplete."""
