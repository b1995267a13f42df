"""The pure rules of openings: who an opening is for, batches of matches, and when an
opening's apply-by day is over in the town."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from services.openings.matching import (
    MATCH_BATCH,
    Preferences,
    Terms,
    batches,
    expiry_moment,
    is_past_apply_by,
    matches,
    today_in,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
RETURNEE = Preferences(
    sectors=frozenset({"tourism", "culture"}),
    employment_types=frozenset({"seasonal", "summer_job"}),
    available_from=date(2027, 6, 1),
)


# --- matches -------------------------------------------------------------------------------


def test_an_opening_in_a_wanted_sector_and_employment_type_matches():
    assert matches(RETURNEE, Terms("tourism", "seasonal"))
    assert matches(RETURNEE, Terms("culture", "summer_job"))


@pytest.mark.parametrize(
    "terms",
    [
        Terms("energy", "seasonal"),  # a sector not wanted
        Terms("tourism", "full_time"),  # an employment type not wanted
        Terms("health_care", "part_time"),  # neither
    ],
)
def test_an_opening_outside_the_profile_does_not_match(terms):
    assert not matches(RETURNEE, terms)


def test_without_a_start_date_availability_does_not_matter():
    late = Preferences(RETURNEE.sectors, RETURNEE.employment_types, date(2099, 1, 1))
    assert matches(late, Terms("tourism", "seasonal", start_date=None))


@pytest.mark.parametrize(
    "start_date, expected",
    [
        (date(2027, 5, 31), False),  # starts the day before the returnee can
        (date(2027, 6, 1), True),  # starts the day they can
        (date(2027, 8, 1), True),
    ],
)
def test_with_a_start_date_the_returnee_must_be_available_by_then(start_date, expected):
    assert matches(RETURNEE, Terms("tourism", "seasonal", start_date)) is expected


# --- batches -------------------------------------------------------------------------------


def test_batches_keep_order_and_hold_at_most_the_batch_size():
    ids = [f"a{n:04}" for n in range(1201)]
    found = list(batches(ids))
    assert [len(batch) for batch in found] == [MATCH_BATCH, MATCH_BATCH, 201]
    assert [account_id for batch in found for account_id in batch] == ids


def test_batches_of_nothing_are_none_and_an_exact_fit_leaves_no_empty_batch():
    assert list(batches([])) == []
    assert list(batches(["a", "b", "c", "d"], size=2)) == [["a", "b"], ["c", "d"]]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError):
        list(batches(["a"], size=0))


# --- dates in the town ---------------------------------------------------------------------


def test_an_opening_expires_when_its_apply_by_day_ends_in_the_town():
    # Stockholm is UTC+1 in winter and UTC+2 in summer.
    assert expiry_moment(date(2026, 12, 31), STOCKHOLM) == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert expiry_moment(date(2027, 7, 15), STOCKHOLM) == datetime(2027, 7, 15, 22, 0, tzinfo=UTC)


def test_the_apply_by_day_is_still_on_until_local_midnight():
    apply_by = date(2026, 12, 31)
    assert not is_past_apply_by(apply_by, STOCKHOLM, datetime(2026, 12, 31, 22, 59, tzinfo=UTC))
    assert is_past_apply_by(apply_by, STOCKHOLM, datetime(2026, 12, 31, 23, 0, tzinfo=UTC))


def test_today_is_the_towns_date_not_utcs():
    late_evening_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert today_in(STOCKHOLM, late_evening_utc) == date(2027, 1, 1)
    assert today_in(UTC, late_evening_utc) == date(2026, 12, 31)
    with pytest.raises(ValueError):
        today_in(STOCKHOLM, datetime(2026, 12, 31, 12, 0))
