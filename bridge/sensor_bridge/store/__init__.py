"""The store: VictoriaMetrics, a single node on the Pi or one tenant of a cluster.

The only package that knows VictoriaMetrics' HTTP API and MetricsQL: ``urls`` (where each
endpoint is, from the site's ``[storage]``), ``client`` (``Store``: query, export, import,
flush, health) and ``queries`` (the MetricsQL the host asks). Everything else asks it.
"""
