"""pyinfra glue of the deploy: facts, operations and one ``@deploy`` per service.

Everything that decides something (preflight, what changed, what restarts, swap, rollback)
is ``sensor_bridge.install``; this package only turns it into pyinfra facts and operations.
"""
