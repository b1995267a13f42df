"""Languages of the website: Swedish first, English second.

Every string a page shows goes through gettext. The message ids are English; the Swedish
catalog is `translations/sv/*.po` — one file per area of the site (`layout.po`,
`proposals.po`, …), merged when the gateway starts and compiled in memory (no `.mo`
files to forget to rebuild). English needs no catalog: its text is the message id.
`tests/unit/test_web_translations.py` extracts every message of the templates and page
modules with Babel and fails when one has no Swedish translation.

A visitor's language: the `civic_lang` cookie (set by the language switch), else the
best of `Accept-Language`, else Swedish. Dates, times and numbers are formatted with
Babel for that language, times in the town's zone (CIVIC_TIMEZONE, Europe/Stockholm).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from civic.clock import to_town, town_zone

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"
LANGUAGE_COOKIE = "civic_lang"
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}
TRANSLATIONS_DIR = Path(__file__).with_name("translations")


def is_language(value) -> bool:
    return isinstance(value, str) and value in LANGUAGES


def negotiate(request) -> str:
    """The visitor's language: the switch's cookie, else Accept-Language, else Swedish."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if is_language(chosen):
        return chosen
    best = request.accept_languages.best_match(
        ("sv", "sv-SE", "sv-FI", "en", "en-GB", "en-US"), default=None
    )
    return best.split("-")[0] if best else DEFAULT_LANGUAGE


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalog of `language` (every `.po` file of its directory, merged)."""
    directory = TRANSLATIONS_DIR / language
    files = sorted(directory.glob("*.po")) if directory.is_dir() else []
    if not files:
        return NullTranslations()
    merged = None
    for path in files:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language)
        if merged is None:
            merged = catalog
        else:
            for message in catalog:
                if message.id and message.string:
                    merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return Translations(fp=buffer)


# --- formatting, per language, in the town's zone ------------------------------------


def _locale(language: str) -> Locale:
    return Locale.parse("sv_SE" if language == "sv" else "en_GB")


def format_datetime(value, language: str, form: str = "medium") -> str:
    """A moment as the town reads it: `12 maj 2026 18:00` / `12 May 2026, 18:00`."""
    moment = _as_datetime(value)
    if moment is None:
        return ""
    local = to_town(moment)
    if form == "short":
        pattern = "d MMM HH:mm"
    elif form == "long":
        pattern = "EEEE d MMMM y, HH:mm"
    else:
        pattern = "d MMM y, HH:mm" if language == "en" else "d MMM y HH:mm"
    return dates.format_datetime(local, pattern, tzinfo=town_zone(), locale=_locale(language))


def format_date(value, language: str, form: str = "medium") -> str:
    if isinstance(value, str):
        moment = _as_datetime(value)
        value = to_town(moment).date() if moment else date.fromisoformat(value)
    elif isinstance(value, datetime):
        value = to_town(value).date()
    if value is None:
        return ""
    return dates.format_date(value, form, locale=_locale(language))


def format_time(value, language: str) -> str:
    moment = _as_datetime(value)
    return (
        ""
        if moment is None
        else dates.format_time(to_town(moment), "HH:mm", locale=_locale(language))
    )


def format_number(value, language: str) -> str:
    return numbers.format_decimal(value, locale=_locale(language))


def month_name(month: int, language: str) -> str:
    return _locale(language).months["stand-alone"]["wide"][month]


def weekday_names(language: str) -> list[str]:
    """Monday first, abbreviated (as a month view heads its columns)."""
    names = _locale(language).days["stand-alone"]["abbreviated"]
    return [names[index] for index in range(7)]


def _as_datetime(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
