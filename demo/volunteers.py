"""The demo's volunteers ("Ställer du upp?", issue 16): a few residents who offered help
(most of them may be contacted, one may not), a clean-up day of the working group Trafik
och gator that asks for 2 drivers, 5 pickers and a host for the coffee, two offers that
fill places, and an invitation from the group's admin waiting for an answer.

Loaded through the groups and events services as the demo residents (the actor dicts
the gateway would pass), after the demo's accounts and groups; idempotent like the rest
of the demo: what exists is kept. Skipped, with a word, when the groups service has no
volunteers yet (an older service)."""

from __future__ import annotations

from datetime import datetime, timedelta

from civic import clock

GROUP = "Trafik och gator"
ORGANISER = "lars"
TITLE = "Vårstädning längs Storgatan"
DESCRIPTION = (
    "Vi städar Storgatan, torget och gång- och cykelvägen ner mot Lilla Luleälven efter "
    "vintern. Förarna kör säckar och grovsopor till återvinningscentralen, plockarna "
    "går i lag med varsin sträcka. Handskar, västar och påsar finns vid Folkets hus. "
    "Vi avslutar med korv och kaffe på torget."
)
DAYS_AHEAD = 16
START = (10, 0)
HOURS = 4
LOCATION = "Samling vid Folkets hus, Storgatan 24, Jokkmokk"
# (name, needed), in the order they are shown.
ROLES = (("Förare", 2), ("Plockare", 5), ("Fikavärd", 1))
# Person.key → the role they offered to help in.
OFFERS = (("johan", "Förare"), ("karin", "Plockare"))
# Person.key → (role, message) of the group's invitation, left unanswered.
INVITATIONS = (
    (
        "emma",
        "Fikavärd",
        "Hej Emma! Vill du ta hand om fikat på torget efter städningen? "
        "Kaffe och korv står kommunen för.",
    ),
)

# Person.key → the profile they saved.
PROFILES = {
    "karin": {
        "skills": ["translation_sami", "translation_swedish", "event_hosting"],
        "other_skills": "Lulesamiska och nordsamiska; van att leda möten.",
        "availability": ["evenings", "weekends"],
        "seasons": ["spring", "summer", "autumn"],
        "interests": ["culture", "environment"],
        "contact_ok": True,
    },
    "johan": {
        "skills": ["driving", "carpentry", "first_aid"],
        "other_skills": "Har släpvagn och skoter.",
        "availability": ["weekends"],
        "seasons": ["winter", "spring"],
        "interests": ["leisure", "environment"],
        "contact_ok": True,
    },
    "sofia": {
        "skills": ["it", "cooking", "translation_finnish"],
        "other_skills": "",
        "availability": ["weekdays", "evenings"],
        "seasons": ["autumn", "winter"],
        "interests": ["business", "culture"],
        "contact_ok": True,
    },
    "emma": {
        "skills": ["translation_english", "childcare", "event_hosting"],
        "other_skills": "Bott i Edinburgh i sex år; hjälper gärna nyinflyttade.",
        "availability": ["evenings", "weekends"],
        "seasons": ["summer"],
        "interests": ["housing", "leisure"],
        "contact_ok": True,
    },
    # Offered help but does not want to be found: never in the search.
    "ingrid": {
        "skills": ["cooking"],
        "other_skills": "",
        "availability": ["weekdays"],
        "seasons": ["summer"],
        "interests": ["business"],
        "contact_ok": False,
    },
}


class VolunteersDemo:
    def __init__(self, groups, events, loader):
        self.groups = groups
        self.events = events
        self.loader = loader
        self.skipped = False

    def _running(self, call):
        from nameko.exceptions import MethodNotFound, RpcTimeout, UnknownService

        if self.skipped:
            return None
        try:
            return call()
        except (UnknownService, RpcTimeout, MethodNotFound):
            self.skipped = True
            self.loader.say(
                "  the volunteers part of the groups or events service is not running: "
                "the demo volunteers are skipped (`civic seed` again once it runs)"
            )
            return None

    # --- what is there ------------------------------------------------------------------

    def _profile(self, key: str) -> dict | None:
        from civic.errors import NotFound

        try:
            return self.groups.get_volunteer_profile(self.loader.actor(key))
        except NotFound:
            return None

    def _event(self, group_id: str) -> dict | None:
        page = 1
        while True:
            listing = self.events.list_events(None, group_id=group_id, page=page, per_page=100)
            for item in listing["items"]:
                if item["title"] == TITLE:
                    return item
            if page * listing["per_page"] >= listing["total"] or not listing["items"]:
                return None
            page += 1

    def is_loaded(self, groups: dict[str, dict]) -> bool:
        """The clean-up day has its roles and its offers (the profiles are saved before
        it is made). Asks nothing that needs a demo account's id: it runs before the
        accounts are looked up."""

        def check():
            group = groups.get(GROUP.casefold())
            event = group and self._event(group["id"])
            if not event or not event.get("roles"):
                return False
            return sum(role["filled"] for role in event["roles"]) >= len(OFFERS)

        answer = self._running(check)
        return bool(answer) or self.skipped

    # --- loading ------------------------------------------------------------------------

    def load(self, groups: dict[str, dict]) -> None:
        self._running(lambda: self._load(groups))

    def _load(self, groups: dict[str, dict]) -> None:
        for key, profile in PROFILES.items():
            found = self._profile(key)
            if found is None:
                self.groups.save_volunteer_profile(self.loader.actor(key), profile)
            self.loader._report(found is None, f"volunteer profile of {key}")
        group = groups[GROUP.casefold()]
        event = self._clean_up_day(group)
        roles = {role["name"]: role for role in event.get("roles") or ()}
        if not roles:
            answer = self.events.set_roles(
                self.loader.actor(ORGANISER),
                event["id"],
                {"roles": [{"name": name, "needed": needed} for name, needed in ROLES]},
            )
            roles = {role["name"]: role for role in answer["roles"]}
            self.loader._report(True, f"volunteer roles of {TITLE}")
        self._offers(event, roles)
        self._invitations(group, event, roles)

    def _clean_up_day(self, group: dict) -> dict:
        from civic.errors import Forbidden, ValidationError
        from demo import eventually

        found = self._event(group["id"])
        if found is None:
            zone = clock.town_zone()
            day = clock.to_town(clock.utcnow()).date() + timedelta(days=DAYS_AHEAD)
            starts_at = datetime(day.year, day.month, day.day, *START, tzinfo=zone)
            payload = {
                "title": TITLE,
                "kind": "clean_up_day",
                "description": DESCRIPTION,
                "starts_at": clock.iso(starts_at),
                "ends_at": clock.iso(starts_at + timedelta(hours=HOURS)),
                "location": LOCATION,
                "capacity": None,
                "online_url": None,
                "organiser_group_id": group["id"],
            }
            # Until the events service knows the group (Forbidden, ValidationError).
            found = eventually(
                lambda: self.events.create_event(self.loader.actor(ORGANISER), payload),
                Forbidden,
                ValidationError,
            )
            self.loader._report(True, f"event {TITLE}")
        return found

    def _offers(self, event: dict, roles: dict) -> None:
        from civic.errors import Conflict

        for key, name in OFFERS:
            if name not in roles:
                continue
            try:
                self.events.offer_help(self.loader.actor(key), event["id"], roles[name]["id"])
                self.loader.created += 1
            except Conflict:  # offered already, or the role is full
                pass

    def _invitations(self, group: dict, event: dict, roles: dict) -> None:
        from civic.errors import Conflict

        mine = self.groups.list_group_volunteer_invitations(
            self.loader.actor(ORGANISER), group["id"], per_page=100
        )
        sent = {(item["volunteer_id"], item["target_id"]) for item in mine["items"]}
        for key, name, message in INVITATIONS:
            volunteer_id = self.loader.ids[key]
            if (volunteer_id, event["id"]) in sent or name not in roles:
                continue
            try:
                self.groups.invite_volunteer(
                    self.loader.actor(ORGANISER),
                    volunteer_id,
                    {
                        "group_id": group["id"],
                        "target_type": "event",
                        "target_id": event["id"],
                        "target_title": TITLE,
                        "role_id": roles[name]["id"],
                        "message": message,
                    },
                )
                self.loader._report(True, f"invitation of {key} to {TITLE}")
            except Conflict:  # pending already
                pass
