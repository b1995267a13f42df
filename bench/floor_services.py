"""The services of `python -m bench.floor`: the read path's stack with none of Civic's
own work — `python -m bench.floor_services service|gateway`.

`service`: a nameko service, `bench_floor_<CIVIC_QUEUE_TYPE>`, answering over Civic's
RPC line (`civic.rpc.Rpc`, as every Civic service answers) from an RPC queue of the type
CIVIC_QUEUE_TYPE gives (`civic.rpc.rpc_queue`): `list_groups` answers a constant page
shaped like GET /api/v1/groups?per_page=1's, `file_proposal` inserts one row into a
SQLite table (WAL, as Civic's) and commits.

`gateway`: a nameko service with one plain nameko `@http` route, GET /floor/<type>,
that calls that method through Civic's RPC client (`civic.rpc.Services`, the gateway's)
and returns the answer as JSON; GET /floor/none returns the same page without calling
anything (the HTTP part alone); POST /floor/<type> files a proposal (201). On
CIVIC_WEB_ADDRESS.

What they leave out is what Civic's gateway and services add: the routes' declarations
(authentication, validation of the query and the body, problem answers), the access and
worker log lines, the correlation and request ids, the schemas, and of the database all
but a write's one commit (no ORM, unit of work, command record or outbox row). What
they keep is what the design card fixes: nameko's HTTP server and worker, a nameko
service answering from its own process, RabbitMQ between them.
"""

from civic import green

green.patch()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from nameko.web.handlers import http  # noqa: E402
from werkzeug.wrappers import Response  # noqa: E402

from bench.floor import NO_RPC  # noqa: E402
from civic import config, log  # noqa: E402
from civic.rpc import Rpc, Services  # noqa: E402
from civic.runner import serve  # noqa: E402

# What GET /api/v1/groups?per_page=1 answers in `make bench`'s world, give or take.
PAGE = {
    "items": [
        {
            "id": "0b6f4a52-5d0e-4c53-9d7a-3f3f1f6c9d21",
            "name": "Jokkmokks hembygdsförening",
            "kind": "association",
            "member_count": 1,
            "verification": "verified",
        }
    ],
    "page": 1,
    "per_page": 1,
    "total": 1,
}


def service_name(queue_type: str) -> str:
    return f"bench_floor_{queue_type}"


def proposals_table(path: str) -> sqlite3.Connection:
    """The floor's one table, in a SQLite file in WAL mode as Civic's (civic.db), with
    SQLite's default synchronous=FULL: each commit is written through to the disk."""
    database = sqlite3.connect(path, isolation_level=None)
    database.execute("PRAGMA journal_mode=WAL")
    database.execute(
        "CREATE TABLE IF NOT EXISTS proposals "
        "(id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL, category TEXT NOT NULL)"
    )
    return database


def floor_service(queue_type: str, var_dir: str) -> type:
    database = proposals_table(os.path.join(var_dir, f"{service_name(queue_type)}.db"))

    class FloorService:
        name = service_name(queue_type)

        @Rpc.decorator
        def list_groups(self):
            return PAGE

        @Rpc.decorator
        def file_proposal(self, title, body, category):
            # The least a write can do before it answers: one row, one commit.
            proposal_id = str(uuid.uuid4())
            database.execute("BEGIN")
            database.execute(
                "INSERT INTO proposals (id, title, body, category) VALUES (?, ?, ?, ?)",
                (proposal_id, title, body, category),
            )
            database.execute("COMMIT")
            return {"id": proposal_id, "title": title}

    return FloorService


class FloorGateway:
    name = "bench_floor_gateway"

    services = Services()

    @http("GET", "/floor/<string:queue_type>")
    def floor(self, request, queue_type):
        if queue_type == NO_RPC:
            page = PAGE  # the HTTP part of the floor alone
        elif queue_type in config.QUEUE_TYPES:
            page = self.services[service_name(queue_type)].list_groups()
        else:
            return Response("no such queue type", status=404)
        return Response(json.dumps(page), mimetype="application/json")

    @http("POST", "/floor/<string:queue_type>")
    def floor_write(self, request, queue_type):
        if queue_type not in config.QUEUE_TYPES:
            return Response("no such queue type", status=404)
        try:
            fields = json.loads(request.get_data())
            proposal = {name: str(fields[name]) for name in ("title", "body", "category")}
        except (ValueError, KeyError, TypeError):
            return Response("a JSON object with title, body and category", status=400)
        created = self.services[service_name(queue_type)].file_proposal(**proposal)
        return Response(json.dumps(created), status=201, mimetype="application/json")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor_services")
    parser.add_argument("role", choices=("service", "gateway"))
    args = parser.parse_args(argv)
    settings = config.install_for("bench.floor_services")
    if settings is None:
        return 2
    # WARNING, not INFO: Civic's access and worker lines are part of the work the floor
    # leaves out.
    log.configure(f"bench_floor_{args.role}", log_dir=settings["CIVIC_LOG_DIR"], level="WARNING")
    logger = log.get_logger("bench.floor_services")
    if args.role == "service":
        return serve(floor_service(settings["CIVIC_QUEUE_TYPE"], settings["CIVIC_VAR_DIR"]), logger)
    return serve(FloorGateway, logger)


if __name__ == "__main__":
    sys.exit(main())
