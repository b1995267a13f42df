"""Issue 15's cluster check as a test (last in `make test`, with the chaos suite):
`python -m tests.chaos.run --cluster` — a three-node RabbitMQ cluster of this machine's
rabbitmq-server (deploy/local-cluster, ports 5701–5703: the machine's own broker is not
touched), three instances of every domain service and two gateways on PostgreSQL, the
chaos workload spread over both gateways while node 1 is stopped and started again,
then node 2. It fails unless the checker counts 0 lost, 0 unexpected, 0 duplicated and
every durable Civic queue was a quorum queue with a member on each node.
"""

from __future__ import annotations

import pytest

from tests.chaos.run import REPORT_DIR, run_as_process

CLUSTER_RUN_LIMIT = 540  # the run takes some 4 minutes on two cores

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(CLUSTER_RUN_LIMIT + 60)]


def test_nothing_lost_nothing_doubled_when_cluster_nodes_go():
    try:
        status, output, table = run_as_process(["--cluster"], CLUSTER_RUN_LIMIT)
    except TimeoutError as exc:
        pytest.fail(str(exc))
    assert status == 0, (
        f"the cluster run found faults (exit {status}; "
        f"details in {REPORT_DIR / 'cluster-report.md'}):\n{table}\n{output[-3000:]}"
    )
    assert "| postgresql | node_stop |" in table
    assert "all quorum, members per queue: {3}" in output
