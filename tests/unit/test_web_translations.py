"""Every word the website shows has its Swedish translation, and every fixed value of
the services' contracts has words on the site.

The message ids are extracted the way `pybabel extract` does (Babel's Python extractor
for the page modules, Jinja2's for the templates); the Swedish catalog is what the
gateway loads (`i18n.translations("sv")`, every `.po` file merged)."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from civic import contracts
from services.consultations import api as consultations_api
from services.events import api as events_api
from services.gateway.web import i18n, labels
from services.groups import api as groups_api
from services.notifications import api as notifications_api
from services.proposals import api as proposals_api

WEB_DIR = Path(i18n.__file__).parent
METHODS = [
    ("**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
OPTIONS = {
    "**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "false"},
}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def extracted() -> dict[str, tuple[str, int]]:
    """Message id (a singular, or (singular, plural)) → where it was first found."""
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(WEB_DIR), METHODS, options_map=OPTIONS, keywords=KEYWORDS
    ):
        found.setdefault(message, (filename, lineno))
    return found


def test_the_site_has_messages_to_translate():
    assert len(extracted()) > 50


def test_every_message_has_a_swedish_translation():
    # The compiled catalog holds only translated messages (an empty msgstr is left out),
    # so a message that reads the same in Swedish ("IT") still counts as translated.
    catalog = i18n.translations("sv")._catalog
    missing = []
    for message, (filename, lineno) in extracted().items():
        if isinstance(message, tuple):
            if not (catalog.get((message[0], 0)) and catalog.get((message[0], 1))):
                missing.append(f"{filename}:{lineno}: {message[0]!r} / {message[1]!r}")
        elif not catalog.get(message):
            missing.append(f"{filename}:{lineno}: {message!r}")
    assert not missing, "no Swedish translation for:\n" + "\n".join(sorted(missing))


def test_translations_keep_their_placeholders():
    swedish = i18n.translations("sv")
    broken = []
    for message in extracted():
        singular = message[0] if isinstance(message, tuple) else message
        translated = swedish.gettext(singular)
        for placeholder in _placeholders(singular):
            if placeholder not in translated:
                broken.append(f"{singular!r} → {translated!r} lacks {placeholder}")
    assert not broken, "\n".join(broken)


def _placeholders(text: str) -> set[str]:
    import re

    return set(re.findall(r"%\(\w+\)s", text))


@pytest.mark.parametrize(
    ("table", "values"),
    [
        ("category", proposals_api.CATEGORIES),
        ("proposal_status", contracts.PROPOSAL_STATUSES),
        ("channel", proposals_api.CHANNELS),
        ("project_status", contracts.PROJECT_STATUSES),
        ("group_kind", contracts.GROUP_KINDS),
        ("group_kind_plural", contracts.GROUP_KINDS),
        ("member_role", contracts.MEMBER_ROLES),
        ("event_kind", contracts.EVENT_KINDS),
        ("event_status", events_api.EVENT_STATUSES),
        ("registration_status", contracts.REGISTRATION_STATUSES),
        ("sector", contracts.SECTORS),
        ("employment_type", contracts.EMPLOYMENT_TYPES),
        ("opening_status", contracts.OPENING_STATUSES),
        ("email_mode", notifications_api.EMAIL_MODES),
        ("notification_kind", notifications_api.KINDS),
        ("consultation_status", contracts.CONSULTATION_STATUSES),
        ("consultation_channel", contracts.CONSULTATION_CHANNELS),
        ("question_kind", consultations_api.QUESTION_KINDS),
        ("text_status", consultations_api.TEXT_STATUSES),
        ("volunteer_availability", contracts.VOLUNTEER_AVAILABILITY),
        ("season", contracts.VOLUNTEER_SEASONS),
        ("category", contracts.VOLUNTEER_INTERESTS),
        ("invitation_target", contracts.INVITATION_TARGET_TYPES),
        ("invitation_status", groups_api.INVITATION_STATUSES),
    ],
)
def test_every_contract_value_has_words_on_the_site(table, values):
    assert set(labels.LABELS[table]) == set(values)


def test_languages_are_negotiated_swedish_first():
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    def request(**headers):
        return Request(EnvironBuilder(headers=headers).get_environ())

    assert i18n.negotiate(request()) == "sv"
    assert i18n.negotiate(request(**{"Accept-Language": "en-US,en;q=0.9"})) == "en"
    assert i18n.negotiate(request(**{"Accept-Language": "de-DE"})) == "sv"
    assert i18n.negotiate(request(**{"Accept-Language": "en", "Cookie": "civic_lang=sv"})) == "sv"
    assert i18n.negotiate(request(**{"Cookie": "civic_lang=xx"})) == "sv"
