"""Make this process cooperative before anything else imports sockets or drivers.

nameko runs on eventlet: a blocking call stops every worker of the process. psycopg2
becomes cooperative through psycogreen; SQLite stays blocking but is serialised per
process by a one-connection pool (see civic.db), so a green thread never waits on the
database while holding the hub.
"""

_patched = False
_driver_patched = False


def patch() -> None:
    global _patched
    if _patched:
        return
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    # Everything but psycopg2, which eventlet would import to patch it whether this
    # process uses PostgreSQL or not: cooperative_postgresql() does that, when needed.
    eventlet.monkey_patch(psycopg=False)
    _patched = True


def cooperative_postgresql() -> None:
    """Make psycopg2 cooperative (psycogreen) in a green process. civic.db calls it
    before it makes a PostgreSQL engine, so a process that never uses PostgreSQL (the
    gateway; every service on SQLite) never loads the driver: 10 MB less of each RSS
    (issue 14). A no-op in a process that is not green."""
    global _driver_patched
    if not _patched or _driver_patched:
        return
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()
    _driver_patched = True
