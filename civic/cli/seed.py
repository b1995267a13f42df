"""`civic seed` (and the end of `civic up`): the Jokkmokk demo data, loaded through the
running services by the top-level `demo` package, imported only when it runs."""

from __future__ import annotations

import uuid

from civic.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    load_settings,
    rpc_client,
    rpc_timeout,
    say,
    setup_logging,
)


def seed(settings: dict) -> bool:
    """Load the demo through the running services; False if it was already there."""
    from civic import green

    green.patch()  # before nameko's clients load
    from nameko.exceptions import RpcTimeout, UnknownService

    import demo
    from civic.errors import CivicError

    try:
        password = demo.demo_password()
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    correlation_id = str(uuid.uuid4())
    timeout = rpc_timeout(settings)
    try:
        with rpc_client(settings, timeout, correlation_id) as proxy:
            loader = demo.DemoLoader(proxy["groups"], password, say=say)
            loaded = loader.load()
    except UnknownService:
        raise CommandError("the groups service is not running: start it with `civic up`") from None
    except RpcTimeout:
        raise CommandError(
            f"the groups service did not answer within {timeout:.0f}s: "
            "is it running? (`civic status`, `civic up`)"
        ) from None
    except (CivicError, RuntimeError) as exc:
        raise CommandError(f"loading the demo data failed: {exc}") from None
    if loaded:
        say(
            f"demo data loaded ({loader.created} changes; `civic logs --trace "
            f"{correlation_id}` shows the story)"
        )
    else:
        say("demo data already loaded: nothing to do")
    return loaded


def cmd_seed(args) -> int:
    settings = load_settings()
    setup_logging(settings)
    seed(settings)
    return EXIT_OK
