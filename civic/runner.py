"""Run one service as its own process: `python -m civic.runner groups`.

Patches eventlet first, loads config from the environment, sets up logging to
`var/log/<service>.log`, declares the whole topology (so no event this service
publishes can fall into the void), then runs the nameko container until SIGTERM/SIGINT.

If the container dies on its own (nameko kills it when, say, an RPC answer cannot be
sent because the broker went away mid-reply), the process exits with CRASH_EXIT_CODE:
a process left running with a dead container consumes nothing and relays nothing, and
its supervisor (compose's `restart: unless-stopped`, Kubernetes) would never notice.
"""

from civic import green

green.patch()

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import eventlet  # noqa: E402
from nameko import config as nameko_config  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from civic import config, log, topology  # noqa: E402

CRASH_EXIT_CODE = 3  # the container died by itself; restart the process


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m civic.runner")
    parser.add_argument("service", choices=config.SERVICES)
    args = parser.parse_args(argv)
    try:
        settings = config.from_env()
    except config.ConfigError as exc:
        print(f"civic: configuration error: {exc}", file=sys.stderr)
        return 2
    nameko_config.update(settings)
    log.configure(
        args.service,
        log_dir=settings["CIVIC_LOG_DIR"],
        fmt=settings["CIVIC_LOG_FORMAT"],
        level=settings["CIVIC_LOG_LEVEL"],
    )
    logger = log.get_logger("civic.runner")
    if settings["CIVIC_CHAOS"]:
        logger.warning("chaos_faults_injected", faults=sorted(settings["CIVIC_CHAOS"]))
    topology.declare(settings["AMQP_URI"])

    return serve(topology.service_class(args.service), logger)


def serve(service_cls, logger, stop_signals=(signal.SIGTERM, signal.SIGINT)) -> int:
    """Run one service's container until a stop signal (exit 0, after a graceful stop)
    or until the container dies by itself (exit CRASH_EXIT_CODE)."""
    runner = ServiceRunner()
    runner.add_service(service_cls)
    stopping = eventlet.event.Event()

    def request_stop(signum, _frame):
        if not stopping.ready():
            stopping.send(signum)

    def watch_container():
        # `runner.wait()` returns (or raises) only once the container has died: by a
        # stop we asked for, or by nameko killing it after an error in a managed thread.
        try:
            runner.wait()
            error = "the container stopped"
        except Exception as exc:  # noqa: BLE001 - whatever killed it, the process ends
            error = f"{type(exc).__name__}: {exc}"[:500]
        if not stopping.ready():
            stopping.send(("died", error))

    for signum in stop_signals:
        signal.signal(signum, request_stop)
    runner.start()
    logger.info("service_started", pid=os.getpid())
    eventlet.spawn(watch_container)
    reason = stopping.wait()
    if isinstance(reason, tuple):
        logger.error("service_crashed", error=reason[1], exit_code=CRASH_EXIT_CODE)
        runner.kill()
        return CRASH_EXIT_CODE
    logger.info("service_stopping", signal=reason)
    with eventlet.Timeout(15, False):
        runner.stop()
    runner.kill()
    logger.info("service_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
