"""`python -m bench.migrate`: what `civic migrate` does, for the bench's own environment.

Runs in a child process (configured by the CIVIC_* environment the bench sets) so the
benchmark client itself never imports nameko or eventlet: every domain service's
database is migrated to head, then the whole topology is declared.
"""

import sys

from civic import config, migrations, topology


def main() -> int:
    settings = config.install_for("bench")
    if settings is None:
        return 2
    for service in config.DOMAIN_SERVICES:
        migrations.upgrade(service)
    topology.declare(settings["AMQP_URI"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
