"""Kernel smoke test with a toy pair of services (no real service needed)."""

from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from civic import topology
from civic.contracts import CATALOGUE, contract
from civic.db import Database, drop_schema, kernel_tables
from civic.messaging import event_handler
from civic.service import ServiceBase, rpc
from tests.conftest import wait_for

if "toy_pinged" not in CATALOGUE:

    @contract("toy_pinged", "toyproducer", "test only")
    class ToyPinged(Schema):
        n = fields.Integer(required=True)


producer_meta = MetaData()
kernel_tables(producer_meta)
consumer_meta = MetaData()
kernel_tables(consumer_meta)
seen = Table(
    "seen",
    consumer_meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("n", Integer),
    Column("corr", String(64)),
)


class ToyProducer(ServiceBase):
    name = "toyproducer"
    db = Database(producer_meta)

    @rpc
    def ping(self, n):
        with self.db as uow:
            uow.publish("toy_pinged", {"n": n})
        return n


class ToyConsumer(ServiceBase):
    name = "toyconsumer"
    db = Database(consumer_meta)

    @event_handler("toyproducer", "toy_pinged", name="on_ping")
    def on_ping(self, envelope, uow):
        uow.session.execute(insert(seen).values(n=envelope.data["n"], corr=envelope.correlation_id))


def test_event_flows_from_outbox_to_idempotent_handler(civic_settings, runner_factory):
    from civic.db import ServiceDatabase

    for cls, meta in ((ToyProducer, producer_meta), (ToyConsumer, consumer_meta)):
        ServiceDatabase(
            cls.name,
            meta,
            url=civic_settings["CIVIC_DATABASES"]["groups"].replace("groups", cls.name),
        ).create_all()
    civic_settings["CIVIC_DATABASES"]["toyproducer"] = civic_settings["CIVIC_DATABASES"][
        "groups"
    ].replace("groups", "toyproducer")
    civic_settings["CIVIC_DATABASES"]["toyconsumer"] = civic_settings["CIVIC_DATABASES"][
        "groups"
    ].replace("groups", "toyconsumer")
    topology.declare(civic_settings["AMQP_URI"], services=[ToyConsumer])
    runner = runner_factory(ToyProducer, ToyConsumer)
    runner.start()
    from nameko.standalone.rpc import ClusterRpcClient

    with ClusterRpcClient(context_data={"correlation_id": "corr-1"}) as client:
        assert client.toyproducer.ping(7) == 7
        assert client.toyproducer.health()["database"] == "ok"
    consumer_db = ServiceDatabase("toyconsumer", consumer_meta)

    def rows():
        with consumer_db.sessions() as s:
            return s.execute(select(seen.c.n, seen.c.corr)).all()

    try:
        got = wait_for(rows, message="toy event handled")
        assert [tuple(r) for r in got] == [(7, "corr-1")]
    finally:
        runner.stop()
        consumer_db.dispose()
        for name in ("toyproducer", "toyconsumer"):
            if consumer_db.schema:
                drop_schema(consumer_db.url, civic_settings["CIVIC_SCHEMA_PREFIX"] + name)
