"""The staff console's skill list (issue 16): `/staff/volunteer-skills`. Staff only
(`auth="staff"`: anyone else gets the 403 page). A mixin of `GatewayService`.

The skills volunteers tick on "Ställer du upp?" (`/volunteer`) and organisers search by
are a list staff keep in the groups service, each with a key (used in links and the
API, never changed) and a Swedish and an English name. The screen lists them, adds one
(the groups service validates it: 409 when its key is on the list) and takes one off
after a confirmation page that says what that does, as the service does it: the skill
is offered no more, profiles that chose it keep it until they are saved again, and
adding its key again brings it back. The same calls as the API's routes
(`volunteers_routes.py`).
"""

from __future__ import annotations

from civic.errors import Conflict, NotFound, ValidationError
from services.gateway.web.forms import FormState, empty_form, submitted_form
from services.gateway.web.handler import Missing, Page, web
from services.groups.api import SKILL_KEY_MAX, SKILL_NAME_MAX

SKILLS = "/staff/volunteer-skills"
SKILL_REMOVAL = SKILLS + "/<key>/remove"
SKILL_FIELDS = ("key", "name_sv", "name_en")


def _(message: str) -> str:
    return message


# The groups service's sentences about a new skill that marshmallow's general ones
# (translated by `forms`) do not cover, in the console's words.
SERVICE_MESSAGES = {
    "Lower-case letters, digits and _.": _(
        "Use only lower-case letters a–z, digits and _, beginning with a letter, "
        "for example snow_clearing."
    ),
}


class StaffVolunteerPages:
    """Entrypoints of the skill list; mixed into GatewayService."""

    @web("GET", SKILLS, auth="staff")
    def web_staff_volunteer_skills(self, page: Page):
        return self._skills_page(page, empty_form(page))

    @web("POST", SKILLS, auth="staff")
    def web_staff_volunteer_skill_add(self, page: Page):
        # A field left empty is missing ("Fill in this field."), not too short.
        payload = {
            name: page.form[name] for name in SKILL_FIELDS if page.form.get(name, "").strip()
        }
        try:
            skill = self.services.groups.add_volunteer_skill(page.actor, payload)
        except ValidationError as error:
            refusal = _in_console_words(page, error)
            return self._skills_page(page, submitted_form(page, refusal), 400)
        except Conflict:
            # The key is the only thing two skills may not share (the service's rule).
            refusal = ValidationError(
                "the input is not valid",
                fields={
                    "key": [
                        page.gettext(
                            "A skill with the key %(key)s is on the list already. Choose "
                            "another key.",
                            key=payload["key"].strip(),
                        )
                    ]
                },
            )
            return self._skills_page(page, submitted_form(page, refusal), 409)
        return page.redirect(
            SKILLS,
            notice=page.gettext(
                "%(name)s is on the list now: volunteers can choose it when they offer their help.",
                name=_skill_name(page, skill),
            ),
        )

    @web("GET", SKILL_REMOVAL, auth="staff")
    def web_staff_volunteer_skill_remove_confirm(self, page: Page, key):
        skill = self._skill_on_list(key)
        return page.render(
            "staff/volunteer_skills.html",
            removing=skill,
            removing_name=_skill_name(page, skill),
            skills_path=SKILLS,
        )

    @web("POST", SKILL_REMOVAL, auth="staff")
    def web_staff_volunteer_skill_remove(self, page: Page, key):
        skill = self._skill_on_list(key, missing_ok=True)
        try:
            self.services.groups.retire_volunteer_skill(page.actor, key)
        except (NotFound, ValidationError):
            # Taken off already (by another member of staff): what was asked for is so.
            return page.redirect(
                SKILLS, notice=page.gettext("That skill is not on the list any longer.")
            )
        return page.redirect(
            SKILLS,
            notice=page.gettext(
                "%(name)s is taken off the list. Adding the key %(key)s again brings it back.",
                name=_skill_name(page, skill) if skill else key,
                key=key,
            ),
        )

    def _skill_on_list(self, key: str, missing_ok: bool = False) -> dict | None:
        """The skill of the list with this key (the list is short: it is asked whole)."""
        skills = self.services.groups.list_volunteer_skills()
        found = next((skill for skill in skills["items"] if skill["key"] == key), None)
        if found is None and not missing_ok:
            raise NotFound("no such skill on the list")
        return found

    def _skills_page(self, page: Page, form: FormState, status: int = 200):
        parts = page.gather(skills=lambda: self.services.groups.list_volunteer_skills())
        skills = parts["skills"]
        if isinstance(skills, Missing):
            raise skills.error  # the screen is the list: nothing to show without it
        name = "name_sv" if page.lang == "sv" else "name_en"
        return page.render(
            "staff/volunteer_skills.html",
            status=status,
            removing=None,
            form=form,
            skills=sorted(skills["items"], key=lambda skill: skill[name].casefold()),
            key_max=SKILL_KEY_MAX,
            name_max=SKILL_NAME_MAX,
            skills_path=SKILLS,
        )


def _skill_name(page: Page, skill: dict) -> str:
    return skill["name_sv"] if page.lang == "sv" else skill["name_en"]


def _in_console_words(page: Page, error: ValidationError) -> ValidationError:
    """The service's refusal with its own sentences in the console's words
    (marshmallow's general ones are translated by `forms`)."""
    if not error.fields:
        return error
    fields = {
        name: [
            page.gettext(SERVICE_MESSAGES[message]) if message in SERVICE_MESSAGES else message
            for message in messages
        ]
        for name, messages in error.fields.items()
    }
    return ValidationError(error.message, fields=fields)
