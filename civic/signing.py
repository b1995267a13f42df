"""Signed tokens for emailed links: one key, one format, one purpose per kind of link.

A token is `<payload, base64url>.<HMAC-SHA256 of purpose + payload, base64url>`. The
purpose keeps a token made for one thing from passing for another (an unsubscribe token
is no email confirmation). Tokens are compared whole and in constant time, so only the
one canonical spelling of a token passes.

The key is CIVIC_SECRET_KEY. Without it (development) a random key is made once and kept
in the var directory, so every process on this machine signs alike. A token made by one
service and read by another (the notifications service sends the confirmation link, the
groups service reads it) needs the same key in both: set CIVIC_SECRET_KEY wherever the
services do not share a var directory (containers, several machines).

Plain Python; the key is read from the process's config.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from civic import config
from civic.log import get_logger

log = get_logger(__name__)

KEY_FILE = "secret.key"
TOKEN_MAX = 300

UNSUBSCRIBE = b"civic-unsubscribe-v1:"
EMAIL_CONFIRMATION = b"civic-email-confirmation-v1:"

_dev_key: bytes | None = None


def signing_key() -> bytes:
    """CIVIC_SECRET_KEY; without one (development), a random key kept in the var dir,
    so links stay valid across restarts of this machine's processes."""
    global _dev_key
    configured = config.get("CIVIC_SECRET_KEY")
    if configured:
        return configured.encode("utf-8")
    path = Path(config.get("CIVIC_VAR_DIR", "var")) / KEY_FILE
    if _dev_key is not None and path.exists():
        return _dev_key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(path, "x", encoding="ascii") as handle:  # first process wins
                handle.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass
        log.warning(
            "secret_key_generated",
            hint="set CIVIC_SECRET_KEY in production; "
            "emailed links are signed with a development key",
            file=str(path),
        )
    _dev_key = path.read_text(encoding="ascii").strip().encode("utf-8")
    return _dev_key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(purpose: bytes, payload: str, key: bytes | None = None) -> str:
    """A token carrying `payload`, valid (for `purpose`) until the key changes."""
    key = key or signing_key()
    raw = payload.encode("utf-8")
    return f"{_b64(raw)}.{_b64(hmac.new(key, purpose + raw, hashlib.sha256).digest())}"


def unsign(purpose: bytes, token, key: bytes | None = None) -> str | None:
    """The payload of a token we signed for `purpose`; None for anything else."""
    if not isinstance(token, str) or len(token) > TOKEN_MAX or token.count(".") != 1:
        return None
    try:
        payload = _unb64(token.split(".")[0]).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    if not payload:
        return None
    expected = sign(purpose, payload, key or signing_key())
    if not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        return None
    return payload


# --- email confirmation ----------------------------------------------------------------
# Made by the notifications service (the emailed link), read by the groups service.


@dataclass(frozen=True)
class EmailConfirmation:
    account_id: str
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def email_confirmation_token(
    account_id: str, expires_at: datetime, key: bytes | None = None
) -> str:
    """The token of a confirmation link for `account_id`, valid until `expires_at`."""
    return sign(EMAIL_CONFIRMATION, f"{account_id}:{int(expires_at.timestamp())}", key)


def email_confirmation_of(token, key: bytes | None = None) -> EmailConfirmation | None:
    """What a confirmation token says (expired or not); None if we did not sign it."""
    payload = unsign(EMAIL_CONFIRMATION, token, key)
    if payload is None:
        return None
    account_id, _, expires = payload.rpartition(":")
    if not account_id or not expires.isdigit():
        return None
    return EmailConfirmation(account_id, datetime.fromtimestamp(int(expires), UTC))
