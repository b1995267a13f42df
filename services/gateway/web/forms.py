"""What a form shows again after a refused submission: the visitor's input, and each
error tied to its field, in the visitor's language.

Input is validated where it always is — by the service that owns it (its schemas in
`services/<name>/api.py`), which answers a `ValidationError` with messages per field.
Those messages are marshmallow's English sentences; `field_message` turns the known ones
into the site's language (anything else is shown as the service wrote it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from civic.errors import CivicError, ValidationError

# marshmallow's messages → (message id, the values it names)
_KNOWN_MESSAGES = (
    (
        re.compile(r"Missing data for required field\.|Field may not be null\."),
        "Fill in this field.",
    ),
    (
        re.compile(r"Shorter than minimum length (?P<min>\d+)\."),
        "Write at least %(min)s characters.",
    ),
    (re.compile(r"Longer than maximum length (?P<max>\d+)\."), "Write at most %(max)s characters."),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        "Write between %(min)s and %(max)s characters.",
    ),
    (re.compile(r"Not a valid email address\."), "Enter an email address, like namn@exempel.se."),
    (re.compile(r"Must be one of: .*"), "Choose one of the options."),
    (re.compile(r"Not a valid (integer|number)\."), "Enter a whole number."),
    (re.compile(r"Not a valid (datetime|date)\..*"), "Enter a date and a time."),
    (re.compile(r"Not a valid UUID\."), "Choose one of the options."),
    (
        re.compile(
            r"Must be greater than or equal to (?P<min>[\d.]+)"
            r"(?: and less than or equal to (?P<max>[\d.]+))?\."
        ),
        "Enter a number from %(min)s.",
    ),
    (re.compile(r"Unknown field\."), "This field is not part of the form."),
)


def _(message: str) -> str:
    return message


# The message ids above, for extraction (Babel finds `_("…")`, not a table).
_EXTRACTED = (
    _("Fill in this field."),
    _("Write at least %(min)s characters."),
    _("Write at most %(max)s characters."),
    _("Write between %(min)s and %(max)s characters."),
    _("Enter an email address, like namn@exempel.se."),
    _("Choose one of the options."),
    _("Enter a whole number."),
    _("Enter a date and a time."),
    _("Enter a number from %(min)s."),
    _("This field is not part of the form."),
)


def field_message(page, message: str) -> str:
    for pattern, message_id in _KNOWN_MESSAGES:
        match = pattern.fullmatch(message.strip())
        if match:
            values = {key: value for key, value in match.groupdict().items() if value}
            return page.gettext(message_id, **values) if values else page.gettext(message_id)
    return message


def _flatten(messages, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages → {"field" or "field.sub": [message, …]}."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for name, value in messages.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            for inner, texts in _flatten(value, key).items():
                flat.setdefault(inner, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for value in messages:
            if isinstance(value, dict | list | tuple):
                for inner, texts in _flatten(value, prefix).items():
                    flat.setdefault(inner, []).extend(texts)
            else:
                flat.setdefault(prefix or "_form", []).append(str(value))
    else:
        flat.setdefault(prefix or "_form", []).append(str(messages))
    return flat


@dataclass
class FormState:
    """A form's values and errors as a template shows them (see macros.html)."""

    values: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)  # field name → [message]; "_form": general
    form_key: str = ""

    def value(self, name: str, default="") -> str:
        value = self.values.get(name, default)
        return "" if value is None else value

    def values_of(self, name: str) -> list:
        value = self.values.get(name, [])
        return value if isinstance(value, list) else [value]

    def errors_for(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)


def empty_form(page, **values) -> FormState:
    return FormState(values=dict(values), form_key=page.new_form_key())


def submitted_form(page, error: CivicError | None = None, names=None) -> FormState:
    """The submitted form again, with `error` tied to its fields. `names` maps a
    service's field name to the form's where they differ."""
    values = {key: page.form.get(key) for key in page.form.keys()} if page.form else {}
    for key in page.form.keys() if page.form else ():
        many = page.form.getlist(key)
        if len(many) > 1:
            values[key] = many
    values.pop("csrf_token", None)
    values.pop("form_key", None)
    errors: dict[str, list[str]] = {}
    if error is not None:
        if isinstance(error, ValidationError) and error.fields:
            for name, texts in _flatten(error.fields).items():
                shown = (names or {}).get(name, name)
                errors.setdefault(shown, []).extend(field_message(page, text) for text in texts)
        else:
            errors["_form"] = [error_message(page, error)]
    return FormState(values=values, errors=errors, form_key=page.new_form_key())


def all_messages(page, error: CivicError) -> str:
    """Every message of a refusal in one line (its fields' and the form's), for a form
    that shows one error beside one item of a list."""
    state = submitted_form(page, error)
    return " ".join(message for messages in state.errors.values() for message in messages)


def error_message(page, error: CivicError) -> str:
    """A sentence for an error that belongs to no one field, in the page's language."""
    known = {
        "unauthenticated": _("Sign in to do this."),
        "forbidden": _("You may not do this."),
        "email_unconfirmed": _(
            "Confirm your email address first: follow the link in the email we sent you."
        ),
        "not_found": _("It does not exist, or no longer does."),
        "conflict": _("That cannot be done now."),
        "rate_limited": _("Too many attempts. Wait a while and try again."),
        "unavailable": _("That part of Civic is not answering right now. Try again in a minute."),
        "too_large": _("What you sent is too large."),
    }
    if error.code in known:
        text = page.gettext(known[error.code])
        # A service's own explanation of a conflict is more precise; show it too.
        if error.code == "conflict" and error.message:
            return f"{text} ({error.message})"
        return text
    return error.message or page.gettext("Something went wrong.")
