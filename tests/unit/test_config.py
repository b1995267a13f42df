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
        service: f"sqlite:///{var / (service + '.db')}" for service in config.DOMAIN_SERVICES
    }
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
    assert from_env({"CIVIC_VAR_DIR": str(tmp_path), "CIVIC_LOG_DIR": "/elsewhere"})[
        "CIVIC_LOG_DIR"
    ] == str(Path("/elsewhere"))


def test_one_postgresql_for_all_with_a_per_service_override():
    settings = from_env(
        {
            "CIVIC_DATABASE_URL": "postgresql://civic@db/civic",
            "CIVIC_EVENTS_DATABASE_URL": "postgresql+psycopg2://civic@other/events",
            "CIVIC_SCHEMA_PREFIX": "town_",
        }
    )
    databases = settings["CIVIC_DATABASES"]
    assert databases["groups"] == "postgresql://civic@db/civic"
    assert databases["events"] == "postgresql+psycopg2://civic@other/events"
    assert settings["CIVIC_SCHEMA_PREFIX"] == "town_"


def test_numbers_are_read():
    settings = from_env(
        {"CIVIC_RPC_TIMEOUT": "2.5", "CIVIC_MAX_WORKERS": "4", "CIVIC_RETRY_DELAYS": "0.5, 2,8"}
    )
    assert settings["CIVIC_RPC_TIMEOUT"] == 2.5
    assert settings["max_workers"] == 4
    assert settings["CIVIC_RETRY_DELAYS"] == [0.5, 2.0, 8.0]


def test_abuse_limits_and_confirmation_have_defaults():
    settings = from_env({})
    assert (settings["CIVIC_SIGNUP_LIMIT"], settings["CIVIC_SIGNUP_WINDOW"]) == (10, 3600)
    assert settings["CIVIC_CONFIRMATION_TTL"] == 72 * 3600
    assert settings["CIVIC_CONFIRMATION_GRACE"] == 7 * 24 * 3600
    assert from_env({"CIVIC_CONFIRMATION_GRACE": "0"})["CIVIC_CONFIRMATION_GRACE"] == 0


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("CIVIC_RPC_TIMEOUT", "soon", "CIVIC_RPC_TIMEOUT must be a number"),
        ("CIVIC_RPC_TIMEOUT", "0", "CIVIC_RPC_TIMEOUT must be greater than zero"),
        ("CIVIC_RELAY_INTERVAL", "-1", "CIVIC_RELAY_INTERVAL must be greater than zero"),
        ("CIVIC_MAX_WORKERS", "2.5", "CIVIC_MAX_WORKERS must be a whole number"),
        ("CIVIC_MAX_BODY_BYTES", "0", "CIVIC_MAX_BODY_BYTES must be greater than zero"),
        ("CIVIC_SIGNIN_LIMIT", "many", "CIVIC_SIGNIN_LIMIT must be a whole number"),
        ("CIVIC_SIGNUP_LIMIT", "0", "CIVIC_SIGNUP_LIMIT must be greater than zero"),
        ("CIVIC_SIGNUP_WINDOW", "hour", "CIVIC_SIGNUP_WINDOW must be a number"),
        ("CIVIC_CONFIRMATION_TTL", "0", "CIVIC_CONFIRMATION_TTL must be greater than zero"),
        ("CIVIC_CONFIRMATION_GRACE", "-1", "CIVIC_CONFIRMATION_GRACE must not be negative"),
        ("CIVIC_RETRY_DELAYS", "1,x", "CIVIC_RETRY_DELAYS must be seconds"),
        ("CIVIC_RETRY_DELAYS", ",", "CIVIC_RETRY_DELAYS needs at least one delay"),
        ("CIVIC_RETRY_DELAYS", "1,0", "CIVIC_RETRY_DELAYS needs at least one delay"),
    ],
)
def test_bad_numbers_are_refused_by_name(name, value, message):
    with pytest.raises(ConfigError, match=message):
        from_env({name: value})


@pytest.mark.parametrize(
    "name, value",
    [
        ("CIVIC_AMQP_URI", "http://127.0.0.1:5672/"),
        ("CIVIC_AMQP_URI", "127.0.0.1:5672"),
        ("CIVIC_RABBIT_MANAGEMENT_URI", "amqp://guest:guest@127.0.0.1:15672"),
        ("CIVIC_DATABASE_URL", "mysql://root@127.0.0.1/civic"),
        ("CIVIC_GROUPS_DATABASE_URL", "/var/lib/civic/groups.db"),
    ],
)
def test_bad_url_schemes_are_refused(name, value):
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


@pytest.mark.parametrize(
    "uri", ["amqps://u:p@broker:5671/civic", "pyamqp://guest:guest@127.0.0.1//"]
)
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


def test_metrics_networks_are_read_and_checked():
    assert from_env({})["CIVIC_METRICS_ALLOW"] == ["127.0.0.0/8", "::1/128"]
    assert from_env({"CIVIC_METRICS_ALLOW": " 10.1.0.0/16, 192.0.2.7 ,2001:db8::/32"})[
        "CIVIC_METRICS_ALLOW"
    ] == ["10.1.0.0/16", "192.0.2.7/32", "2001:db8::/32"]
    assert from_env({"CIVIC_METRICS_ALLOW": ""})["CIVIC_METRICS_ALLOW"] == []
    for bad in ("10.0.0.0/33", "localhost", "10.0.0.0/8;127.0.0.1", "::1/129"):
        with pytest.raises(
            ConfigError, match="CIVIC_METRICS_ALLOW must be networks in CIDR notation"
        ):
            from_env({"CIVIC_METRICS_ALLOW": bad})


def test_metrics_scrapers_are_matched_by_network():
    from services.gateway.metrics import may_scrape

    loopback = ["127.0.0.0/8", "::1/128"]
    for address in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert may_scrape(address, loopback), address
    for address in ("10.0.0.1", "::2", "", None, "not an address"):
        assert not may_scrape(address, loopback), address
    assert not may_scrape("127.0.0.1", [])


@pytest.mark.parametrize(
    "env, catcher",
    [
        ({}, True),
        ({"CIVIC_SMTP_HOST": ""}, True),
        ({"CIVIC_SMTP_PORT": "2525"}, True),
        ({"CIVIC_SMTP_HOST": "127.0.0.1"}, False),
        ({"CIVIC_SMTP_HOST": "mail.example", "CIVIC_SMTP_TLS": "starttls"}, False),
    ],
)
def test_the_mail_catcher_runs_when_no_smtp_server_is_configured(env, catcher):
    settings = from_env(env)
    assert settings["CIVIC_MAIL_CATCHER"] is catcher
    # Either way the services send to CIVIC_SMTP_HOST, 127.0.0.1 when unset.
    assert settings["CIVIC_SMTP_HOST"] == (env.get("CIVIC_SMTP_HOST") or "127.0.0.1")


@pytest.mark.parametrize(
    "env, named",
    [
        ({"CIVIC_SMTP_TLS": "starttls"}, "CIVIC_SMTP_TLS=starttls needs CIVIC_SMTP_HOST"),
        ({"CIVIC_SMTP_TLS": "tls", "CIVIC_SMTP_HOST": ""}, "CIVIC_SMTP_TLS=tls needs"),
        (
            {"CIVIC_SMTP_USER": "civic", "CIVIC_SMTP_PASSWORD": "pw"},
            "CIVIC_SMTP_USER and CIVIC_SMTP_PASSWORD need CIVIC_SMTP_HOST",
        ),
    ],
)
def test_the_mail_catcher_takes_neither_tls_nor_a_login(env, named):
    with pytest.raises(ConfigError, match=named):
        from_env(env)


def test_a_process_installs_its_config_for_nameko_or_says_why_not(tmp_path, capsys):
    from nameko import config as nameko_config

    with nameko_config.patch({}, clear=True):
        settings = config.install_for("civic", {"CIVIC_VAR_DIR": str(tmp_path)})
        assert settings is not None and settings["CIVIC_VAR_DIR"] == str(tmp_path)
        assert nameko_config.get("CIVIC_VAR_DIR") == str(tmp_path)  # the kernel reads it there
    with nameko_config.patch({}, clear=True):
        assert config.install_for("bench", {"CIVIC_LOG_FORMAT": "xml"}) is None
        assert nameko_config.get("CIVIC_VAR_DIR") is None  # nothing installed
    assert capsys.readouterr().err.startswith("bench: configuration error: CIVIC_LOG_FORMAT")
