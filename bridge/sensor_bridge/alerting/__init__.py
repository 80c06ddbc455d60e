"""Alerting in one package: what pages whom, the rules that decide it, and their tests.

* ``alerts``: the alerts' names and routing labels, and the inhibitions; the rules and
  Alertmanager's routes (``render.alertmanager``) use the same constants.
* ``rules``: vmalert's rules, per device, from the contract and the site's thresholds.
* ``promql``: what the rules' expressions are built from: the series they read, selectors,
  numbers, thresholds in the site's unit, the idle hours.
* ``units``: the one conversion from stored °C to the site's unit (rules, dashboards, status,
  demo).
* ``durations``: the one parser of durations (``30s``, ``5m``, ``100y``) and times of day.
* ``series``, ``cases``, ``runner``: the rules' unit tests: the series and expectations they
  are built from, the cases (every alert firing and not, for every device), and the
  vmalert-tool files and their run (``sensor-bridge alerts test``).

This module imports nothing: the site file's model parses its durations with ``durations``.
"""
