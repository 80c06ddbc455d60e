"""Several Pis over SSH, each with its own site file (copy to inventory.studios.py, edit):

    hatch run pyinfra deploy/inventory.studios.py deploy/deploy.py --sudo
    hatch run pyinfra deploy/inventory.studios.py deploy/deploy.py --sudo --limit studio-north.local

Each Pi gets its site and secrets files in /etc/sensor-pipeline (the secrets file 0600, never
printed). The user needs key-based SSH and passwordless sudo (Raspberry Pi OS's first user has
both once a key is installed).
"""

pis = [
    (
        "studio-north.local",
        {"ssh_user": "pi", "site_file": "sites/north/site.toml"},
    ),
    (
        "studio-south.local",
        {"ssh_user": "pi", "site_file": "sites/south/site.toml"},
    ),
]
