"""civic.config.from_env: defaults that work on one machine, and clear errors."""
from pathlib import Path

import pytest

from civic import config
from civic.config import ConfigError, from_env


def test_defaults_run_everything_on_this_machine():
    settings = from_env({})
    var = config.ROOT / "var"
    assert settings["AMQP_URI"] == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings["RABBIT_MANAGEMENT_URI"] == "http://guest:guest@127.0.0.1:15672"
    assert settings["WEB_SERVER_ADDRESS"] == "127.0.0.1:8000"
    assert settings["CIVIC_VAR_DIR"] == str(var)
    assert settings["CIVIC_LOG_DIR"] == str(var / "log")
    assert settings["CIVIC_DATABASES"] == {
        service: f"sqlite:///{var / (service + '.db')}" for service in config.DOMAIN_SERVICES}
    assert settings["CIVIC_SCHEMA_PREFIX"] == ""
    assert settings["CIVIC_LOG_FORMAT"] == "json"
    assert settings["CIVIC_LOG_LEVEL"] == "INFO"
    assert settings["CIVIC_RPC_TIMEOUT"] == 5.0
    assert settings["CIVIC_RETRY_DELAYS"] == [1.0, 4.0, 15.0]
    assert settings["CIVIC_TIMEZONE"] == "Europe/Stockholm"
    assert settings["serializer"] == "json"
    assert settings["max_workers"] == 10


def test_services_and_domain_services():
    assert "gateway" in config.SERVICES
    assert "gateway" not in config.DOMAIN_SERVICES
    assert set(config.DOMAIN_SERVICES) == set(config.SERVICES) - {"gateway"}


def test_var_dir_moves_databases_and_logs(tmp_path):
    settings = from_env({"CIVIC_VAR_DIR": str(tmp_path)})
    assert settings["CIVIC_LOG_DIR"] == str(tmp_path / "log")
    assert settings["CIVIC_DATABASES"]["groups"] == f"sqlite:///{tmp_path / 'groups.db'}"
    assert from_env({"CIVIC_VAR_DIR": str(tmp_path),
                     "CIVIC_LOG_DIR": "/elsewhere"})["CIVIC_LOG_DIR"] == str(Path("/elsewhere"))


def test_one_postgresql_for_all_with_a_per_service_override():
    settings = from_env({
        "CIVIC_DATABASE_URL": "postgresql://civic@db/civic",
        "CIVIC_EVENTS_DATABASE_URL": "postgresql+psycopg2://civic@other/events",
        "CIVIC_SCHEMA_PREFIX": "town_",
    })
    databases = settings["CIVIC_DATABASES"]
    assert databases["groups"] == "postgresql://civic@db/civic"
    assert databases["events"] == "postgresql+psycopg2://civic@other/events"
    assert settings["CIVIC_SCHEMA_PREFIX"] == "town_"


def test_numbers_are_read():
    settings = from_env({"CIVIC_RPC_TIMEOUT": "2.5", "CIVIC_MAX_WORKERS": "4",
                         "CIVIC_RETRY_DELAYS": "0.5, 2,8"})
    assert settings["CIVIC_RPC_TIMEOUT"] == 2.5
    assert settings["max_workers"] == 4
    assert settings["CIVIC_RETRY_DELAYS"] == [0.5, 2.0, 8.0]


@pytest.mark.parametrize("name, value, message", [
    ("CIVIC_RPC_TIMEOUT", "soon", "CIVIC_RPC_TIMEOUT must be a number"),
    ("CIVIC_RPC_TIMEOUT", "0", "CIVIC_RPC_TIMEOUT must be greater than zero"),
    ("CIVIC_RELAY_INTERVAL", "-1", "CIVIC_RELAY_INTERVAL must be greater than zero"),
    ("CIVIC_MAX_WORKERS", "2.5", "CIVIC_MAX_WORKERS must be a whole number"),
    ("CIVIC_MAX_BODY_BYTES", "0", "CIVIC_MAX_BODY_BYTES must be greater than zero"),
    ("CIVIC_SIGNIN_LIMIT", "many", "CIVIC_SIGNIN_LIMIT must be a whole number"),
    ("CIVIC_RETRY_DELAYS", "1,x", "CIVIC_RETRY_DELAYS must be seconds"),
    ("CIVIC_RETRY_DELAYS", ",", "CIVIC_RETRY_DELAYS needs at least one delay"),
    ("CIVIC_RETRY_DELAYS", "1,0", "CIVIC_RETRY_DELAYS needs at least one delay"),
])
def test_bad_numbers_are_refused_by_name(name, value, message):
    with pytest.raises(ConfigError, match=message):
        from_env({name: value})


@pytest.mark.parametrize("name, value", [
    ("CIVIC_AMQP_URI", "http://127.0.0.1:5672/"),
    ("CIVIC_AMQP_URI", "127.0.0.1:5672"),
    ("CIVIC_RABBIT_MANAGEMENT_URI", "amqp://guest:guest@127.0.0.1:15672"),
    ("CIVIC_DATABASE_URL", "mysql://root@127.0.0.1/civic"),
    ("CIVIC_GROUPS_DATABASE_URL", "/var/lib/civic/groups.db"),
])
def test_bad_url_schemes_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


@pytest.mark.parametrize("uri", ["amqps://u:p@broker:5671/civic",
                                 "pyamqp://guest:guest@127.0.0.1//"])
def test_other_amqp_schemes_are_fine(uri):
    assert from_env({"CIVIC_AMQP_URI": uri})["AMQP_URI"] == uri


def test_bad_log_format_and_level_are_refused():
    with pytest.raises(ConfigError, match="CIVIC_LOG_FORMAT must be one of json, console"):
        from_env({"CIVIC_LOG_FORMAT": "xml"})
    with pytest.raises(ConfigError, match="CIVIC_LOG_LEVEL"):
        from_env({"CIVIC_LOG_LEVEL": "verbose"})
    assert from_env({"CIVIC_LOG_FORMAT": "console"})["CIVIC_LOG_FORMAT"] == "console"


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)
