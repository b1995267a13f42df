"""One correlation id follows a request from the gateway into the groups service."""

import json
from pathlib import Path

from tests.conftest import wait_for
from tests.system.conftest import PASSWORD


def log_lines(log_dir):
    lines = []
    for path in Path(log_dir).glob("*.log"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue  # a line being written right now
    return lines


def test_one_request_is_one_story_across_services(api, system_settings):
    correlation_id = "corr-test.signup-0001"
    account = api.register("Traced")
    response = api.post(
        "/sessions",
        json={"email": account["email"], "password": PASSWORD},
        headers={"X-Correlation-ID": correlation_id},
    )
    assert response.status_code == 201
    assert response.headers["X-Correlation-ID"] == correlation_id

    def services_that_logged_it():
        return {
            line.get("service")
            for line in log_lines(system_settings["CIVIC_LOG_DIR"])
            if line.get("correlation_id") == correlation_id
        }

    assert wait_for(
        lambda: {"gateway", "groups"} <= services_that_logged_it(),
        message="gateway and groups log lines with the correlation id",
    )

    lines = [
        line
        for line in log_lines(system_settings["CIVIC_LOG_DIR"])
        if line.get("correlation_id") == correlation_id
    ]
    access = [line for line in lines if line["event"] == "http_request"]
    assert len(access) == 1
    assert access[0]["service"] == "gateway" and access[0]["status"] == 201
    assert access[0]["method"] == "POST" and access[0]["path"] == "/api/v1/sessions"
    assert "duration_ms" in access[0]
    entrypoints = {line.get("entrypoint") for line in lines}
    assert {"gateway.create_session", "groups.sign_in"} <= entrypoints
    # Nothing secret went to the log: not the password, not the token it answered.
    text = "\n".join(
        path.read_text(encoding="utf-8")
        for path in Path(system_settings["CIVIC_LOG_DIR"]).glob("*.log")
    )
    assert PASSWORD not in text
    assert response.json()["token"] not in text


def test_the_actor_follows_an_authenticated_request(api, system_settings):
    account, token = api.resident("Actor")
    correlation_id = "corr-test.me-0002"
    assert (
        api.get("/me", token=token, headers={"X-Correlation-ID": correlation_id}).status_code == 200
    )

    def groups_lines():
        return [
            line
            for line in log_lines(system_settings["CIVIC_LOG_DIR"])
            if line.get("correlation_id") == correlation_id
            and line.get("entrypoint") == "groups.get_me"
        ]

    lines = wait_for(groups_lines, message="the groups worker's line")
    assert lines[0]["actor_id"] == account["id"]
    access = [
        line
        for line in log_lines(system_settings["CIVIC_LOG_DIR"])
        if line.get("correlation_id") == correlation_id and line["event"] == "http_request"
    ]
    assert access[0]["actor_id"] == account["id"]
