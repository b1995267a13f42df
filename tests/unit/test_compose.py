"""docker-compose.yml and deploy/: every service is there, started the same way, with a
configuration civic.config accepts (no Docker engine needed to check that). The
Kubernetes manifests (deploy/k8s/) are checked in test_k8s.py."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from civic import config

ROOT = config.ROOT
MAIL_CATCHERS = ("mailpit", "mailhog")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- KEY=value` form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_infrastructure_is_there(services):
    assert services["rabbitmq"]["image"].startswith("rabbitmq:3-management")
    assert services["postgres"]["image"] == "postgres:15"
    mail = [
        name
        for name, svc in services.items()
        if any(catcher in str(svc.get("image", "")) for catcher in MAIL_CATCHERS)
    ]
    assert mail, "no mail catcher (mailpit or mailhog) in docker-compose.yml"


@pytest.mark.parametrize("name", config.SERVICES)
def test_every_service_runs_its_own_runner(services, name):
    service = services[name]
    assert service["command"] == ["python", "-m", "civic.runner", name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", list(config.SERVICES) + ["migrate"])
def test_every_service_environment_is_valid_and_points_at_the_stack(services, name):
    env = environment(services[name])
    settings = config.from_env(env)  # raises ConfigError on anything malformed
    amqp = urlsplit(settings["AMQP_URI"])
    assert amqp.scheme == "amqp" and amqp.hostname == "rabbitmq"
    assert urlsplit(settings["RABBIT_MANAGEMENT_URI"]).hostname == "rabbitmq"
    for service, url in settings["CIVIC_DATABASES"].items():
        parts = urlsplit(url)
        assert parts.scheme == "postgresql" and parts.hostname == "postgres", service
    assert settings["CIVIC_LOG_FORMAT"] == "json"
    # The broker user and vhost are the ones the rabbitmq container creates.
    rabbit_env = environment(services["rabbitmq"])
    assert amqp.username == rabbit_env["RABBITMQ_DEFAULT_USER"]
    assert amqp.password == rabbit_env["RABBITMQ_DEFAULT_PASS"]
    assert amqp.path.lstrip("/") == rabbit_env["RABBITMQ_DEFAULT_VHOST"]
    postgres_env = environment(services["postgres"])
    database = urlsplit(settings["CIVIC_DATABASES"]["groups"])
    assert database.username == postgres_env["POSTGRES_USER"]
    assert database.password == postgres_env["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres_env["POSTGRES_DB"]


@pytest.mark.parametrize("name", ["groups", "notifications", "migrate"])
def test_services_share_one_secret_key_for_emailed_links(services, name):
    # Notifications signs confirmation links, groups reads them: in containers (no shared
    # var directory) only a configured key is the same for both.
    settings = config.from_env(environment(services[name]))
    assert settings["CIVIC_SECRET_KEY"]
    assert (
        settings["CIVIC_SECRET_KEY"]
        == config.from_env(environment(services["groups"]))["CIVIC_SECRET_KEY"]
    )


def test_migrate_runs_once_after_the_broker_and_database(services):
    migrate = services["migrate"]
    assert migrate["command"] == ["civic", "migrate"]
    assert migrate.get("restart", "no") == "no"
    assert migrate["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_gateway_listens_on_all_interfaces_and_publishes_8000(services):
    gateway = services["gateway"]
    assert environment(gateway)["CIVIC_WEB_ADDRESS"] == "0.0.0.0:8000"
    assert any(str(port).endswith("8000:8000") for port in gateway["ports"])
    assert not any("ports" in services[name] for name in config.DOMAIN_SERVICES)


def test_mail_goes_to_the_mail_catcher(services):
    env = environment(services["notifications"])
    assert env["CIVIC_SMTP_HOST"] in services
    assert any(catcher in services[env["CIVIC_SMTP_HOST"]]["image"] for catcher in MAIL_CATCHERS)


def test_dockerfile_builds_from_python_311_slim():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    stages = [line for line in dockerfile.splitlines() if line.startswith("FROM")]
    assert stages == ["FROM python:3.11-slim"]
    assert "pip install ." in dockerfile
    assert "USER civic" in dockerfile


def test_the_image_holds_every_package_the_project_installs():
    """`pip install .` in the image installs what pyproject.toml lists (e.g. `demo`,
    which `civic seed` imports): each must have been copied in."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [
        pattern.rstrip("*")
        for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    assert packages and all(f"COPY {package} ./{package}" in dockerfile for package in packages), (
        packages
    )


def test_env_example_names_only_settings_that_exist():
    example = (ROOT / "deploy" / "civic.env.example").read_text(encoding="utf-8")
    values = {}
    for raw in example.splitlines():
        line = raw.lstrip("#").strip()
        if line.startswith("CIVIC_") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    assert {
        "CIVIC_AMQP_URI",
        "CIVIC_DATABASE_URL",
        "CIVIC_LOG_FORMAT",
        "CIVIC_WEB_ADDRESS",
        "CIVIC_RETRY_DELAYS",
    } <= set(values)
    # Every uncommented value is one civic.config accepts.
    active = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in example.splitlines()
        if line.startswith("CIVIC_")
    }
    config.from_env(active)


def test_compose_file_is_at_the_root_next_to_the_dockerfile():
    assert Path(ROOT / "docker-compose.yml").is_file()
    assert (ROOT / "deploy" / "Dockerfile.dockerignore").is_file()
