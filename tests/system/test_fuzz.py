"""Schemathesis against the served OpenAPI document, with the whole platform running.

Every operation of /api/v1/openapi.json (and /healthz, /metrics) gets generated requests:
positive data (what the document says is valid) and negative data (what it says is not),
with random ids in the path and, where the path names things, with ids of things that
exist (a group, a proposal, an event...), so that requests reach the services' rules and
not only their 404s. Each generated request is sent three times: without a token
(anyone), with a resident's token and with a staff member's token. (A negative case made
invalid by its Authorization header, missing or broken, is sent once, as generated: our
tokens would make it valid.) Each response is checked:

- never a 5xx (`not_a_server_error`);
- its status code is one the document lists for the operation, its content type, headers
  and body match what the document says for that status (`status_code_conformance`,
  `content_type_conformance`, `response_headers_conformance`,
  `response_schema_conformance`);
- data the document calls invalid is refused (`negative_data_rejection`; 413 counts as
  refused).

Failures are gathered for the whole run (no shrinking: every example is one request per
caller) and reported together. The numbers (operations, examples, requests, time) appear
in pytest's terminal summary. `CIVIC_FUZZ_EXAMPLES` (examples per operation, mode and id
variant; default 12, about 2.5 minutes per database) and `CIVIC_FUZZ_SEED` (fixed by
default so that a gating run is repeatable; a number replays a run, `random` explores
afresh; printed in the summary) tune it.

Tokens: DELETE /me and DELETE /sessions/current end the token they are called with, which
would turn every later request of the run into a 401. They get a token of their own on
each call, a new throwaway account's; the resident's and staff's tokens are never sent
to them.

Limits: the system fixtures' small sign-in and sign-up limits are raised for this run
(a fuzzer signs in and registers a lot), and bodies may be as large as by default; the
limits themselves have their own tests.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest
import requests
import schemathesis  # noqa: E402
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from nameko import config as nameko_config
from schemathesis import GenerationMode, checks  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402

from tests.system.conftest import ApiClient, gateway_port, new_group

EXAMPLES = int(os.environ.get("CIVIC_FUZZ_EXAMPLES", "12"))
# A fixed seed by default: the suite gates every submission, so the same tree fuzzes the
# same way each time (a regression test). `CIVIC_FUZZ_SEED=random` explores afresh.
_SEED_SETTING = os.environ.get("CIVIC_FUZZ_SEED") or "20261201"
SEED = random.randrange(2**32) if _SEED_SETTING == "random" else int(_SEED_SETTING)
REQUEST_TIMEOUT = 20
# Operations that end the token they are called with: each call gets a token of its own.
SELF_ENDING = {("DELETE", "/api/v1/me"), ("DELETE", "/api/v1/sessions/current")}
FUZZ_LIMITS = {
    "CIVIC_SIGNIN_LIMIT": 100_000,
    "CIVIC_SIGNUP_LIMIT": 100_000,
    "CIVIC_MAX_BODY_BYTES": 65536,
    "CIVIC_RPC_TIMEOUT": 10.0,
}
# 413 (a body over CIVIC_MAX_BODY_BYTES: schemathesis makes long strings) refuses data too.
SCHEMATHESIS_CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
            }
        }
    }
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


GENERATED = object()  # the Authorization header as schemathesis made it


def negates_authorization(case) -> bool:
    """A negative case made invalid by a missing or broken Authorization header."""
    data = case.meta.phase.data if case.meta is not None else None
    return any(
        mutation.parameter_location.value == "header"
        and (mutation.parameter or "").lower() == "authorization"
        for mutation in getattr(data, "mutations", ()) or ()
    )


class TerminalSummary:
    """A plugin that puts the fuzzing numbers in pytest's terminal summary, so that they
    show in every run's output (`make test` too), passed or failed."""

    def __init__(self, line: str):
        self.line = line

    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep("-", "API fuzzing (schemathesis)")
        terminalreporter.write_line(self.line)


@pytest.fixture
def fuzzed_platform(system_settings, runner_factory):
    """Every service, with limits a fuzzer does not trip over."""
    from services.consultations.service import ConsultationsService
    from services.events.service import EventsService
    from services.gateway.service import GatewayService
    from services.groups.service import GroupsService
    from services.notifications.service import NotificationsService
    from services.openings.service import OpeningsService
    from services.proposals.service import ProposalsService

    with nameko_config.patch(FUZZ_LIMITS, clear=False):
        runner = runner_factory(
            GatewayService,
            GroupsService,
            ProposalsService,
            EventsService,
            OpeningsService,
            ConsultationsService,
            NotificationsService,
        )
        runner.start()
        client = ApiClient(f"http://127.0.0.1:{gateway_port(runner)}")
        yield client
        client.close()


def known_things(client, resident, staff_token) -> dict:
    """Ids of things that exist, by path parameter name."""
    account, token = resident
    group = new_group(client, token, "Fuzzers", kind="business")
    proposal = client.post(
        "/proposals",
        token=token,
        json={"title": "Fuzzed benches", "body": "Benches, please.", "category": "leisure"},
    )
    assert proposal.status_code == 201, proposal.text
    verified = client.post(f"/groups/{group['id']}/verify", token=staff_token)
    assert verified.status_code == 200, verified.text
    return {
        "group_id": group["id"],
        "proposal_id": proposal.json()["id"],
        "account_id": account["id"],
        "target_id": proposal.json()["id"],
        "target_type": "proposal",
        "network_id": group["id"],
    }


def later_things(client, token, things) -> dict:
    """Ids that need the services to have heard of the group first (events, openings)."""
    from tests.conftest import wait_for

    event = {
        "title": "Fuzz night",
        "kind": "meeting",
        "description": "",
        "starts_at": "2031-05-15T10:00:00+02:00",
        "ends_at": "2031-05-15T12:00:00+02:00",
        "location": "Folkets hus",
        "capacity": 2,
        "organiser_group_id": things["group_id"],
    }
    opening = {
        "business_group_id": things["group_id"],
        "title": "Fuzz tester",
        "description": "Breaks things.",
        "sector": "tourism",
        "employment_type": "seasonal",
        "location": "Jokkmokk",
        "apply_by": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * 30)),
        "contact": "jobb@example.org",
    }
    found = dict(things)
    for name, path, body in (("event_id", "/events", event), ("opening_id", "/openings", opening)):

        def created(path=path, body=body):
            response = client.post(path, token=token, json=body)
            return response.json()["id"] if response.status_code == 201 else None

        found[name] = wait_for(created, timeout=20, interval=0.2, message=path)
    return found


@pytest.mark.timeout(900)
def test_the_api_does_what_its_document_says(fuzzed_platform, make_staff, request):
    client = fuzzed_platform
    started = time.monotonic()
    staff_token = client.sign_in(make_staff("Fuzz Staff"))
    resident = client.resident("Fuzz Resident")
    things = later_things(client, resident[1], known_things(client, resident, staff_token))
    base_url = client.base_url
    schema = schemathesis.openapi.from_url(
        f"{base_url}/api/v1/openapi.json", config=SCHEMATHESIS_CONFIG
    )
    session = requests.Session()

    def throwaway_token() -> str:
        # A fresh account for each call that ends its token (see the module's doc).
        return client.resident("Throwaway")[1]

    callers = {"anyone": None, "resident": resident[1], "staff": staff_token}
    counts = Counter()
    statuses = Counter()
    failures: dict[tuple, str] = {}
    operations = []

    def send(case, caller, token, mode, variant):
        """One request, its response checked; failures kept, not raised (no shrinking:
        it would send many more requests). `token`: None for no Authorization header,
        GENERATED for the one schemathesis made (a forged or broken one)."""
        key = (case.method.upper(), case.path)
        sent = case.as_transport_kwargs(base_url=base_url)
        headers = {
            name: value
            for name, value in (sent.get("headers") or {}).items()
            if token is GENERATED or name.lower() != "authorization"
        }
        if token not in (None, GENERATED):
            own = throwaway_token() if key in SELF_ENDING else token
            headers["Authorization"] = f"Bearer {own}"
        sent["headers"] = headers
        response = session.request(**sent, timeout=REQUEST_TIMEOUT)
        counts["requests"] += 1
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                where = (key, type(failure).__name__, response.status_code)
                failures.setdefault(
                    where,
                    (
                        f"{' '.join(key)} as {caller}, {mode.value} data, {variant}: "
                        f"{failure.title} (HTTP {response.status_code})\n"
                        f"{failure.message[:600]}\n{case.as_curl_command(headers=headers)}\n"
                        f"-> {response.text[:300]}"
                    ),
                )

    def each_caller(mode, variant):
        def example(case):
            counts[mode.value] += 1
            if negates_authorization(case):
                # Our tokens would undo what makes it invalid: sent as generated.
                send(case, "a forged token", GENERATED, mode, variant)
                return
            for caller, token in callers.items():
                send(case, caller, token, mode, variant)

        return example

    for result in schema.get_all_operations():
        operation = result.ok()
        operations.append(operation)
        path_names = {parameter.name for parameter in operation.path_parameters}
        known = {name: things[name] for name in path_names if name in things}
        variants = [("random ids", None)] + ([("known ids", known)] if known else [])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for variant, path_parameters in variants:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )
                run = given(case=strategy)(each_caller(mode, variant))
                run = settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )(run)
                try:
                    seed(SEED)(run)()
                except (Unsatisfiable, FailedHealthCheck):
                    # Negative data for an operation that takes no input: nothing to send.
                    counts[f"{mode.value} skipped"] += 1
    seconds = time.monotonic() - started
    summary = (
        f"schemathesis on {os.environ.get('CIVIC_TEST_DB', 'sqlite')}: "
        f"{len(operations)} operations; {counts['positive']} positive and "
        f"{counts['negative']} negative examples (at most {EXAMPLES} per operation, "
        f"mode and id variant; no negative data for "
        f"{counts['negative skipped']} operations/variants without input), each "
        f"sent as anyone, a resident and staff: {counts['requests']} requests in "
        f"{seconds:.0f} s, seed {SEED}; statuses "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
        + f"; {len(failures)} distinct failures"
    )
    request.config.pluginmanager.register(TerminalSummary(summary))
    print(summary)
    assert len(operations) >= 60, "the document lists fewer operations than expected"
    assert counts["positive"] >= len(operations)
    assert not failures, f"{len(failures)} distinct failures (seed {SEED}):\n\n" + "\n\n".join(
        failures.values()
    )
