"""What the browser tests share: the Swedish words the site shows for a message id (the
tests find buttons and texts as a Swedish visitor reads them), and fresh accounts."""

from __future__ import annotations

import uuid

from services.gateway.web import i18n
from services.gateway.web.labels import LABELS
from tests.browser.harness import DEFAULT_PASSWORD

SWEDISH = i18n.translations("sv")


def sv(message: str, **values) -> str:
    """The Swedish words the site shows for `message`."""
    text = SWEDISH.gettext(message)
    return text % values if values else text


def sv_plural(singular: str, plural: str, number: int) -> str:
    return SWEDISH.ngettext(singular, plural, number) % {"num": number}


def sv_label(table: str, value: str) -> str:
    """The Swedish words for a fixed value (labels.py), e.g. ("sector", "it")."""
    return SWEDISH.gettext(LABELS[table][value])


def unique(prefix: str) -> str:
    """`prefix` made unique on the shared platform (a title, a name)."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def new_account(site, name_prefix: str, locale: str = "sv") -> dict:
    """A fresh account, registered over the API and signed in there:
    {email, name, token, id}. The email address is plain ASCII whatever the name."""
    tag = uuid.uuid4().hex[:8]
    name, email = f"{name_prefix} {tag}", f"resident-{tag}@example.org"
    account = site.api.post(
        "/accounts",
        {"email": email, "password": DEFAULT_PASSWORD, "display_name": name, "locale": locale},
        expect=201,
    )
    return {"email": email, "name": name, "token": site.api.sign_in(email), "id": account["id"]}
