"""Run one service as its own process: `python -m civic.runner groups`.

Patches eventlet first, loads config from the environment, sets up logging to
`var/log/<service>.log`, declares the whole topology (so no event this service
publishes can fall into the void), then runs the nameko container until SIGTERM/SIGINT.
"""

from civic import green

green.patch()

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import eventlet  # noqa: E402
from nameko import config as nameko_config  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from civic import config, log, topology  # noqa: E402


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
    service_cls = topology.service_class(args.service)

    runner = ServiceRunner()
    runner.add_service(service_cls)
    stopping = eventlet.event.Event()

    def request_stop(signum, _frame):
        if not stopping.ready():
            stopping.send(signum)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    runner.start()
    logger.info("service_started", pid=__import__("os").getpid())
    signum = stopping.wait()
    logger.info("service_stopping", signal=signum)
    with eventlet.Timeout(15, False):
        runner.stop()
    runner.kill()
    logger.info("service_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
