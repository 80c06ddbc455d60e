"""The on-host half of ``hatch run deploy``: what the pyinfra deploy (``deploy/``) has the Pi do.

pyinfra installs packages, users and images and restarts units; everything that decides
something lives here, as plain Python the tests run directly:

* ``preflight``: is this OS one the stack runs on (Debian 13+, 64-bit)?
* ``layout``: where live files, the staging tree and the previous set live under a root
  (``/`` on the Pi, a temp dir in tests);
* ``changes``: render the site against what is live, and which files differ;
* ``ownership``: who owns each file once it is live;
* ``activation``: which units restart or reload because of which changed files;
* ``validation``: the staged files through the real checkers (``sensor_bridge.checks``), the
  container-only tools run in their pinned images;
* ``swap``: validated files into place, the previous version of each kept; ``rollback``;
* ``health``: after a restart, every service answers, or the one that does not is named.
"""
