"""``sensor-bridge status``: every service, every device and the firing alerts on one screen.

* ``targets``: where each service of the registry answers and whether it is deployed on this
  machine, from the site file and each service's renderer (tests build their own);
* ``report``: what was found (services, devices, alerts), the problems it adds up to, and its
  JSON;
* ``services``, ``broker``, ``samples``, ``firing``: one probe each (the registry names each
  service's), bounded by a timeout, never raising for a service that does not answer;
* ``collect``: runs every probe at once and assembles the report;
* ``text``: the screen.
"""
