"""The Pi this checkout is on (``hatch run deploy``). The site file is $SENSOR_SITE, else
./site.toml; give another with ``--data site_file=PATH``."""

hosts = ["@local"]
