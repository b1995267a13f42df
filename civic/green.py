"""Make this process cooperative before anything else imports sockets or drivers.

nameko runs on eventlet: a blocking call stops every worker of the process. psycopg2
becomes cooperative through psycogreen; SQLite stays blocking but is serialised per
process by a one-connection pool (see civic.db), so a green thread never waits on the
database while holding the hub.
"""

_patched = False


def patch() -> None:
    global _patched
    if _patched:
        return
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    import eventlet

    eventlet.monkey_patch()
    from psycogreen.eventlet import patch_psycopg

    patch_psycopg()
    _patched = True
