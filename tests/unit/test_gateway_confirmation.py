"""The gateway's one check of email confirmation: writes of an account unconfirmed past
its grace period are refused; reads, and the ways out, are not."""

from datetime import UTC, datetime, timedelta

import pytest

from civic.errors import EmailUnconfirmed, Forbidden
from services.gateway.auth import UNCONFIRMED_MAY, check_confirmed, confirm_by

REGISTERED = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GRACE = timedelta(days=7)
UNCONFIRMED = {"account_id": "a", "email_confirmed": False, "created_at": REGISTERED.isoformat()}
CONFIRMED = {**UNCONFIRMED, "email_confirmed": True}


def test_the_deadline_is_registration_plus_grace():
    assert confirm_by(UNCONFIRMED, GRACE) == REGISTERED + GRACE
    assert confirm_by(CONFIRMED, GRACE) is None
    # A principal from a groups service that does not say: not held up.
    assert confirm_by({"account_id": "a"}, GRACE) is None


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "post"])
def test_writes_within_the_grace_period_pass_and_after_it_are_refused(method):
    check_confirmed(
        UNCONFIRMED, method, "create_group", REGISTERED + GRACE - timedelta(seconds=1), GRACE
    )
    with pytest.raises(EmailUnconfirmed) as caught:
        check_confirmed(UNCONFIRMED, method, "create_group", REGISTERED + GRACE, GRACE)
    assert isinstance(caught.value, Forbidden)
    assert (caught.value.status, caught.value.code) == (403, "email_unconfirmed")


def test_reads_confirmed_accounts_and_the_ways_out_always_pass():
    late = REGISTERED + timedelta(days=30)
    for method in ("GET", "HEAD", "OPTIONS"):
        check_confirmed(UNCONFIRMED, method, "get_me", late, GRACE)
    check_confirmed(CONFIRMED, "POST", "create_group", late, GRACE)
    assert UNCONFIRMED_MAY == {
        "delete_session",
        "resend_confirmation_email",
        "erase_me",
        "web_sign_out",
        "web_resend_confirmation",
        "web_erase_account",
    }
    for entrypoint in UNCONFIRMED_MAY:
        check_confirmed(UNCONFIRMED, "DELETE", entrypoint, late, GRACE)


def test_no_grace_at_all():
    with pytest.raises(EmailUnconfirmed):
        check_confirmed(UNCONFIRMED, "POST", "create_group", REGISTERED, timedelta(0))


def test_the_ways_out_name_real_entrypoints():
    from services.gateway.service import GatewayService

    for name in UNCONFIRMED_MAY:
        assert callable(getattr(GatewayService, name)), name
