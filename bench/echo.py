"""`python -m bench.echo --queue NAME`: the baseline's responder, plain kombu, no nameko.

Consumes requests from a durable queue and publishes each body straight back to the
request's `reply_to` with its `correlation_id`, acking after the reply is sent. The
queue, persistence and ack timing mirror what a nameko RPC service does (durable
`rpc-<service>` queue, persistent messages, ack after the worker), so the baseline is
the broker round trip Civic cannot go below, not a cheaper variant of it.
Broker: CIVIC_AMQP_URI. Stops cleanly on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from kombu import Connection, Consumer, Producer, Queue

PERSISTENT = 2
PREFETCH = 10  # nameko's default max_workers, which is also its RPC prefetch


def serve(amqp_uri: str, queue_name: str, queue_type: str = "classic") -> None:
    stopping = False

    def request_stop(_signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    with Connection(amqp_uri, connect_timeout=10) as connection:
        channel = connection.channel()
        producer = Producer(channel, serializer="json")

        def on_request(body, message):
            reply_to = message.properties.get("reply_to")
            if reply_to:
                producer.publish(
                    body,
                    routing_key=reply_to,
                    delivery_mode=PERSISTENT,
                    correlation_id=message.properties.get("correlation_id"),
                )
            message.ack()

        arguments = {"x-queue-type": queue_type} if queue_type != "classic" else {}
        queue = Queue(queue_name, durable=True, auto_delete=False, queue_arguments=arguments)
        consumer = Consumer(
            channel,
            queues=[queue],
            callbacks=[on_request],
            accept=["json"],
            prefetch_count=PREFETCH,
        )
        with consumer:
            while not stopping:
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    pass  # nothing arrived; look at `stopping` again
        queue(channel).delete()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.echo")
    parser.add_argument("--queue", required=True)
    parser.add_argument(
        "--queue-type",
        choices=("classic", "quorum"),
        default="classic",
        help="the type of the durable request queue (default classic)",
    )
    args = parser.parse_args(argv)
    amqp_uri = os.environ.get("CIVIC_AMQP_URI")
    if not amqp_uri:
        print("bench.echo: CIVIC_AMQP_URI is not set", file=sys.stderr)
        return 2
    serve(amqp_uri, args.queue, args.queue_type)
    return 0


if __name__ == "__main__":
    sys.exit(main())
