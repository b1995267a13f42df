"""The email settings: defaults that work on one machine, and clear refusals."""

import pytest

from civic.config import ConfigError, from_env


def test_email_defaults():
    config = from_env({})
    assert (config["CIVIC_SMTP_HOST"], config["CIVIC_SMTP_PORT"], config["CIVIC_SMTP_TLS"]) == (
        "127.0.0.1",
        1025,
        "none",
    )
    assert config["CIVIC_SMTP_USER"] is None and config["CIVIC_SMTP_PASSWORD"] is None
    assert config["CIVIC_PUBLIC_URL"] == "http://127.0.0.1:8000"
    assert config["CIVIC_SECRET_KEY"] is None
    assert config["CIVIC_EMAIL_INTERVAL"] == 10.0 and config["CIVIC_DIGEST_HOUR"] == 7
    assert "@" in config["CIVIC_MAIL_FROM"]


def test_email_settings_are_read():
    config = from_env(
        {
            "CIVIC_SMTP_HOST": "mail.example",
            "CIVIC_SMTP_PORT": "587",
            "CIVIC_SMTP_TLS": "starttls",
            "CIVIC_SMTP_USER": "civic",
            "CIVIC_SMTP_PASSWORD": "pw",
            "CIVIC_MAIL_FROM": "civic@example.org",
            "CIVIC_PUBLIC_URL": "https://civic.example/",
            "CIVIC_SECRET_KEY": "x" * 40,
            "CIVIC_EMAIL_INTERVAL": "2.5",
            "CIVIC_DIGEST_HOUR": "0",
        }
    )
    assert config["CIVIC_SMTP_PORT"] == 587 and config["CIVIC_SMTP_TLS"] == "starttls"
    assert (config["CIVIC_SMTP_USER"], config["CIVIC_SMTP_PASSWORD"]) == ("civic", "pw")
    assert config["CIVIC_PUBLIC_URL"] == "https://civic.example"
    assert config["CIVIC_EMAIL_INTERVAL"] == 2.5 and config["CIVIC_DIGEST_HOUR"] == 0


@pytest.mark.parametrize(
    "env, message",
    [
        ({"CIVIC_SMTP_PORT": "0"}, "CIVIC_SMTP_PORT"),
        ({"CIVIC_SMTP_PORT": "smtp"}, "CIVIC_SMTP_PORT"),
        ({"CIVIC_SMTP_TLS": "ssl"}, "CIVIC_SMTP_TLS"),
        ({"CIVIC_SMTP_USER": "civic"}, "CIVIC_SMTP_PASSWORD"),
        ({"CIVIC_MAIL_FROM": "not an address"}, "CIVIC_MAIL_FROM"),
        ({"CIVIC_MAIL_FROM": "a@b\r\nBcc: x@y"}, "CIVIC_MAIL_FROM"),
        ({"CIVIC_PUBLIC_URL": "ftp://x"}, "CIVIC_PUBLIC_URL"),
        ({"CIVIC_SECRET_KEY": "short"}, "CIVIC_SECRET_KEY"),
        ({"CIVIC_EMAIL_INTERVAL": "0"}, "CIVIC_EMAIL_INTERVAL"),
        ({"CIVIC_DIGEST_HOUR": "24"}, "CIVIC_DIGEST_HOUR"),
    ],
)
def test_bad_email_settings_are_refused_by_name(env, message):
    with pytest.raises(ConfigError, match=message):
        from_env(env)
