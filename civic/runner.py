"""Run one service as its own process: `python -m civic.runner groups`.

Patches eventlet first, loads config from the environment, sets up logging to
`var/log/<service>.log`, declares the whole topology (a domain service: so no event it
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
from nameko.runners import ServiceRunner  # noqa: E402

from civic import config, log, topology  # noqa: E402

CRASH_EXIT_CODE = 3  # the container died by itself; restart the process

# glibc's mallopt(3) parameter, and the value it has before glibc starts raising it.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_large_blocks_to_the_system() -> bool:
    """Fix glibc's mmap threshold at its initial 128 KiB, so every large block (argon2's
    19 MiB per password hash) is mmapped and given back to the system when freed.

    Left dynamic, glibc raises the threshold past a block's size the first time such a
    block is freed; from then on 19 MiB blocks come from the arenas, one per thread that
    hashed (tpool's threads), which keep them: measured with `python -m bench.memory`,
    groups stayed at 391 MB after 200 sign-ins, 89 MB with the threshold fixed (capping
    the arenas, M_ARENA_MAX, did less and nothing more on top). True if it was set; a
    no-op elsewhere than glibc (musl, macOS)."""
    import ctypes

    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, ValueError):  # no such name or symbol: not glibc
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1


def spare_the_collector_the_startup_objects() -> None:
    """Move every object alive once the service has started (modules, classes, the
    containers, SQLAlchemy's and nameko's structures: they live as long as the process)
    into the collector's permanent generation (`gc.freeze`).

    A full collection walks every tracked object and stops the whole process meanwhile:
    62 ms for the 125,000 objects of a started service on this machine, paid whenever
    enough long-lived objects have piled up — a stall every request and event in flight
    waits out (issue 14's tail latencies). Frozen, a full pass walks only what came later
    (under 0.1 ms right after). Objects frozen are still freed when their last reference
    goes; only a cycle among them would stay, and they were meant to stay."""
    import gc

    gc.collect()
    gc.freeze()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m civic.runner")
    parser.add_argument("service", choices=config.SERVICES)
    args = parser.parse_args(argv)
    return_large_blocks_to_the_system()
    settings = config.install_for("civic")
    if settings is None:
        return 2
    log.configure(
        args.service,
        log_dir=settings["CIVIC_LOG_DIR"],
        fmt=settings["CIVIC_LOG_FORMAT"],
        level=settings["CIVIC_LOG_LEVEL"],
    )
    logger = log.get_logger("civic.runner")
    if settings["CIVIC_CHAOS"]:
        logger.warning("chaos_faults_injected", faults=sorted(settings["CIVIC_CHAOS"]))
    if args.service in config.DOMAIN_SERVICES:
        # Before its first event: every queue of every handler exists, so no event goes
        # into the void. The gateway publishes none (its own queues are its listeners'),
        # and declaring would load every domain service's code into it: 10 MB it never
        # runs (issue 14's memory goal).
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
    spare_the_collector_the_startup_objects()
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
