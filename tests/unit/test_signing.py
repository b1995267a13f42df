"""The kernel's signed tokens: one format, a purpose per kind of link, expiry for
confirmation links."""

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from civic import signing

KEY = b"k" * 40
WHEN = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_token_carries_its_payload_for_its_purpose_only():
    token = signing.sign(signing.UNSUBSCRIBE, "acc-1", KEY)
    assert signing.unsign(signing.UNSUBSCRIBE, token, KEY) == "acc-1"
    assert signing.unsign(signing.EMAIL_CONFIRMATION, token, KEY) is None
    assert signing.unsign(signing.UNSUBSCRIBE, token, b"x" * 40) is None


def test_the_unsubscribe_format_is_unchanged():
    # Links already in mailboxes keep working: base64url(account id) . base64url(HMAC).
    def b64(raw):
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    mac = hmac.new(KEY, b"civic-unsubscribe-v1:acc-1", hashlib.sha256).digest()
    assert signing.sign(signing.UNSUBSCRIBE, "acc-1", KEY) == f"{b64(b'acc-1')}.{b64(mac)}"


def test_a_confirmation_token_names_the_account_and_its_expiry():
    token = signing.email_confirmation_token("acc-1", WHEN + timedelta(hours=72), KEY)
    found = signing.email_confirmation_of(token, KEY)
    assert found.account_id == "acc-1"
    assert found.expires_at == WHEN + timedelta(hours=72)
    assert not found.expired(WHEN + timedelta(hours=71, minutes=59))
    assert found.expired(WHEN + timedelta(hours=72))
    assert len(token) < 200


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: signing.email_confirmation_token("acc-1", WHEN, b"x" * 40),
        # A later expiry with the old signature.
        lambda token: (
            signing.email_confirmation_token("acc-1", WHEN + timedelta(days=999), KEY).split(".")[0]
            + "."
            + token.split(".")[1]
        ),
        # An unsubscribe token is no confirmation.
        lambda token: signing.sign(signing.UNSUBSCRIBE, "acc-1:9999999999", KEY),
        lambda token: signing.sign(signing.EMAIL_CONFIRMATION, "acc-1", KEY),
        lambda token: signing.sign(signing.EMAIL_CONFIRMATION, "acc-1:soon", KEY),
        lambda token: "",
        lambda token: "a.b.c",
        lambda token: None,
        lambda token: 42,
        lambda token: "a" * 400,
    ],
)
def test_anything_we_did_not_sign_as_a_confirmation_is_refused(forge):
    token = signing.email_confirmation_token("acc-1", WHEN, KEY)
    assert signing.email_confirmation_of(forge(token), KEY) is None
