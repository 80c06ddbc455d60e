"""The stack on one machine: each service on a free loopback port with its data in a work dir.

The demo, the system tests and the benchmarks run the real programs (Mosquitto, VictoriaMetrics,
vmalert, Alertmanager, Vector or the forwarder) on the rendered configuration, with only the
ports, paths and IRM's URLs their own.
"""
