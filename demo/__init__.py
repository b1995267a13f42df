"""The Jokkmokk demo data, loaded by `civic seed` (and `civic up`).

An RPC client of every service, kept out of the kernel (`civic`): `civic seed` imports it
only when it runs. Everything goes through the running services over RPC (groups, then
proposals, openings and events, as the demo residents), so the events flow exactly as they
would for real residents: the other services build their read models from them. The staff
account and the residents' email confirmations go through the groups service's
operator-only RPCs (`create_staff_account`, `confirm_emails`), which the gateway does not
expose. Loading is idempotent step by step: what exists is found and kept, what is missing
is created, so a half-finished load is completed by the next run and a complete one is
left alone.

Every demo account (staff included) signs in with the same password: the environment
variable `CIVIC_DEMO_PASSWORD`, or `DEFAULT_PASSWORD` below.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from civic import clock
from demo.consultations import ConsultationsDemo
from demo.volunteers import VolunteersDemo

DEFAULT_PASSWORD = "jokkmokk-demo-2026"
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Person:
    key: str
    email: str
    display_name: str
    locale: str = "sv"


@dataclass(frozen=True)
class DemoGroup:
    name: str
    kind: str
    description: str
    admin: str  # Person.key of the creator (the first admin)
    open: bool = True
    members: tuple[str, ...] = ()  # Person.keys that join (closed group: admin approves)
    verified: bool = False  # associations and businesses that staff verified
    networks: tuple[str, ...] = field(default=())  # names of networks the group joins


STAFF = Person("staff", "staff@jokkmokk.example", "Maria Sarri (Jokkmokks kommun)")

RESIDENTS = (
    Person("lars", "lars.nilsson@jokkmokk.example", "Lars Nilsson"),
    Person("karin", "karin.labba@jokkmokk.example", "Karin Labba"),
    Person("per_erik", "per-erik.blind@jokkmokk.example", "Per-Erik Blind"),
    Person("sofia", "sofia.kuhmunen@jokkmokk.example", "Sofia Kuhmunen"),
    Person("elin", "elin.astrom@jokkmokk.example", "Elin Åström"),
    Person("johan", "johan.spik@jokkmokk.example", "Johan Spik"),
    Person("ingrid", "ingrid.pavval@jokkmokk.example", "Ingrid Pavval"),
    # A returnee who studied abroad and prefers English.
    Person("emma", "emma.andersson@jokkmokk.example", "Emma Andersson", locale="en"),
)

NETWORK = "Jokkmokks föreningsnätverk"

GROUPS = (
    DemoGroup(
        "Trafik och gator",
        "working_group",
        "Arbetsgrupp för trafiksäkerhet, gator, gång- och cykelvägar och snöröjning.",
        admin="lars",
        members=("karin", "johan", "emma"),
    ),
    DemoGroup(
        "Kultur och fritid",
        "working_group",
        "Arbetsgrupp för kultur, idrott, fritidsgårdar och Jokkmokks marknad.",
        admin="karin",
        members=("sofia", "elin", "ingrid"),
    ),
    DemoGroup(
        NETWORK,
        "network",
        "Nätverk där Jokkmokks föreningar och företag driver gemensamma projekt.",
        admin="per_erik",
        members=("johan", "sofia"),
    ),
    DemoGroup(
        "Jokkmokks hembygdsförening",
        "association",
        "Hembygdsföreningen vårdar bygdens historia, hembygdsgården och slöjden.",
        admin="per_erik",
        open=False,
        members=("ingrid", "lars"),
        verified=True,
        networks=(NETWORK,),
    ),
    DemoGroup(
        "Jokkmokks skidklubb",
        "association",
        "Längdskidor för alla åldrar: spårdragning, träningar och Jokkmokksloppet.",
        admin="johan",
        members=("elin", "emma"),
        verified=True,
        networks=(NETWORK,),
    ),
    DemoGroup(
        "Jokkmokks konditori",
        "business",
        "Konditori och café vid torget; söker personal till sommarsäsongen.",
        admin="sofia",
        open=False,
        members=("elin",),
        verified=True,
        networks=(NETWORK,),
    ),
    # Left unverified on purpose: staff can try verifying an organisation in the demo.
    DemoGroup(
        "Lapplands turism AB",
        "business",
        "Guidade turer, norrskensresor och boende i Lappland.",
        admin="ingrid",
        open=False,
        members=(),
        verified=False,
    ),
    # Businesses that post openings for returnees (see OPENINGS below).
    DemoGroup(
        "Jokkmokks viltpark",
        "business",
        "Viltpark med fjällräv, järv, lodjur och ren; guidade visningar hela året.",
        admin="ingrid",
        open=False,
        members=("johan",),
        verified=True,
    ),
    DemoGroup(
        "Vattenfall Porjus",
        "business",
        "Vattenkraftstationen i Porjus vid Stora Luleälven.",
        admin="lars",
        open=False,
        verified=True,
    ),
    DemoGroup(
        "Jokkmokks hälsocentral",
        "business",
        "Hälsocentralen i Jokkmokk: vårdcentral, distriktssköterskor och ambulansstation.",
        admin="karin",
        open=False,
        verified=True,
    ),
)


# How long the demo waits for a service's read models to catch up with the groups
# service's events (a group is known elsewhere a moment after it was created).
READ_MODEL_WAIT = 60.0


def eventually(call, *retry_on, wait: float = READ_MODEL_WAIT):
    """`call()`, tried again every half second while it raises one of `retry_on`, for
    up to `wait` seconds (then the error stands)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return call()
        except retry_on:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def demo_password(env=None) -> str:
    env = os.environ if env is None else env
    password = env.get("CIVIC_DEMO_PASSWORD") or DEFAULT_PASSWORD
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(
            f"CIVIC_DEMO_PASSWORD must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    return password


# --- loading ------------------------------------------------------------------------


def all_groups(groups) -> dict[str, dict]:
    """Every group the groups service holds, by case-folded name."""
    found, page = {}, 1
    while True:
        listing = groups.list_groups(kind=None, page=page, per_page=100)
        for group in listing["items"]:
            found[group["name"].casefold()] = group
        if page * listing["per_page"] >= listing["total"] or not listing["items"]:
            return found
        page += 1


def is_loaded(existing: dict[str, dict]) -> bool:
    """True when every demo group exists, verified and networked as it should be."""
    for demo in GROUPS:
        group = existing.get(demo.name.casefold())
        if group is None:
            return False
        if demo.verified and not group.get("verified"):
            return False
        names = {network["name"] for network in group.get("networks", ())}
        if not set(demo.networks) <= names:
            return False
    return True


class DemoLoader:
    """Loads the demo through `groups` (an RPC proxy to the groups service), then the
    proposals and joint projects, openings and events through proxies to those services
    (by default over the same connection as `groups`). `say` prints progress.
    """

    def __init__(
        self, groups, password: str, say=print, proposals=None, openings=None, events=None
    ):
        self.groups = groups
        self.password = password
        self.say = say
        # The proposals service over the same connection, unless given its own proxy.
        self.proposals = proposals if proposals is not None else sibling_client(groups, "proposals")
        # Likewise the openings service.
        self.openings = openings if openings is not None else sibling_client(groups, "openings")
        # And the events service.
        self.events = events if events is not None else sibling_client(groups, "events")
        # And the consultations service.
        self.consultations = sibling_client(groups, "consultations")
        self.created = 0
        self.ids: dict[str, str] = {}

    def load(self) -> bool:
        """Load what is missing; returns False when everything was already there."""
        existing = all_groups(self.groups)
        proposals = ProposalsDemo(self.proposals, self)
        openings = OpeningsDemo(self.openings, self)
        events = EventsDemo(self.events, self)
        consultations = ConsultationsDemo(self.consultations, self, STAFF.key)
        volunteers = VolunteersDemo(self.groups, self.events, self)
        if (
            is_loaded(existing)
            and proposals.is_loaded(existing)
            and openings.is_loaded(existing)
            and events.is_loaded(existing)
            and consultations.is_loaded()
            and volunteers.is_loaded(existing)
        ):
            return False
        self.load_groups(existing)
        proposals.load(existing)
        openings.load(existing)
        events.load(existing)
        consultations.load()
        volunteers.load(existing)
        return True

    def load_groups(self, existing: dict[str, dict], groups=GROUPS, residents=RESIDENTS) -> None:
        """The staff account, `residents` (their email addresses confirmed: nobody reads
        the demo's mailboxes) and `groups` with their members, verification and the
        networks among them. `existing` (groups by case-folded name) gains what is made.

        The other parts of the demo need this first; their tests load just the people
        and groups they use.
        """
        self._staff()
        for person in residents:
            self._account(person)
        self.groups.confirm_emails([self.ids[person.key] for person in residents])
        for demo in groups:
            self._group(demo, existing)
        names = {demo.name for demo in groups}
        for demo in groups:
            self._networks(demo, names)

    def _staff(self) -> None:
        # Staff cannot be made over the public API: the groups service's operator RPC.
        answer = self.groups.create_staff_account(STAFF.email, self.password, STAFF.display_name)
        self.ids[STAFF.key] = answer["account"]["id"]
        self._report(answer["created"], f"staff account {STAFF.email}")

    def _account(self, person: Person) -> None:
        from civic.errors import Conflict, Unauthenticated

        try:
            account = self.groups.register_account(
                {
                    "email": person.email,
                    "password": self.password,
                    "display_name": person.display_name,
                    "locale": person.locale,
                }
            )
            created = True
        except Conflict:
            try:
                session = self.groups.sign_in(person.email, self.password)
            except Unauthenticated:
                raise RuntimeError(
                    f"{person.email} exists but does not accept the demo password "
                    "(was CIVIC_DEMO_PASSWORD different when the demo was loaded?)"
                ) from None
            self.groups.sign_out(session["token"])
            account, created = session["account"], False
        self.ids[person.key] = account["id"]
        self._report(created, f"account {person.email}")

    def _group(self, demo: DemoGroup, existing: dict[str, dict]) -> None:
        from civic.errors import Conflict, NotFound

        admin = self.actor(demo.admin)
        group = existing.get(demo.name.casefold())
        created = group is None
        if created:
            group = self.groups.create_group(
                admin,
                {
                    "name": demo.name,
                    "kind": demo.kind,
                    "description": demo.description,
                    "open": demo.open,
                },
            )
            existing[demo.name.casefold()] = group
        self._report(created, f"group {demo.name}")
        for key in demo.members:
            try:
                joined = self.groups.join_group(self.actor(key), group["id"])
                pending = joined["status"] == "pending"
                self.created += 1
            except Conflict:  # already a member, or already asked to join
                pending = True
            if pending and not demo.open:
                try:
                    self.groups.approve_member(admin, group["id"], self.ids[key])
                except NotFound:  # no pending request: already an active member
                    pass
        if demo.verified and not group.get("verified"):
            try:
                self.groups.verify_group(self.actor(STAFF.key), group["id"])
                self.created += 1
            except Conflict:  # verified meanwhile
                pass
        self.ids["group:" + demo.name] = group["id"]

    def _networks(self, demo: DemoGroup, loaded: set[str]) -> None:
        """Join the networks of `demo` that are among the `loaded` group names."""
        from civic.errors import Conflict

        for network in demo.networks:
            if network not in loaded:
                continue
            try:
                self.groups.join_network(
                    self.actor(demo.admin),
                    self.ids["group:" + demo.name],
                    self.ids["group:" + network],
                )
                self.created += 1
                self.say(f"  {demo.name} joined {network}")
            except Conflict:  # already in it
                pass

    def actor(self, key: str) -> dict:
        """The actor dict of a demo person (by Person.key), as the gateway would pass it
        to a service for a signed-in account."""
        person = STAFF if key == STAFF.key else next(p for p in RESIDENTS if p.key == key)
        return {
            "account_id": self.ids[key],
            "is_staff": key == STAFF.key,
            "display_name": person.display_name,
        }

    def _report(self, created: bool, what: str) -> None:
        if created:
            self.created += 1
            self.say(f"  created {what}")
        else:
            self.say(f"  found {what}")


# --- proposals and joint projects -----------------------------------------------------


@dataclass(frozen=True)
class DemoProposal:
    title: str
    body: str
    category: str
    author: str  # Person.key; STAFF.key files a visitor's proposal
    place: tuple | None = None  # (name, lat, lon)
    channel: str = "online"
    contact: str | None = None  # a drop-in visitor's contact line (staff only)
    supporters: tuple[str, ...] = ()
    comments: tuple[tuple[str, str], ...] = ()  # (Person.key, text)
    steps: tuple[str, ...] = ()  # the statuses staff move it through, in order
    answer: str | None = None  # the official answer of an accepted/rejected step
    assign_to: str | None = None  # the working group that takes it on


@dataclass(frozen=True)
class DemoProject:
    title: str
    description: str
    lead: str  # group name; its admin registers the project
    admin: str  # Person.key of that admin
    partners: tuple[str, ...] = ()  # group names
    origin: str | None = None  # title of the proposal it comes from
    steps: tuple[str, ...] = ()  # statuses it is moved through, in order


RINK = "Isbana i parken på vintern"

PROPOSALS = (
    DemoProposal(
        RINK,
        "Spola en isbana i Stadsparken från december till mars, med belysning på "
        "kvällarna. Barnen har långt till ishallen och en bana mitt i byn blir en "
        "mötesplats för alla åldrar.",
        "leisure",
        author="karin",
        place=("Stadsparken, Jokkmokk", 66.6063, 19.8239),
        supporters=("lars", "sofia", "elin", "johan", "emma", "ingrid"),
        comments=(
            ("johan", "Skidklubben hjälper gärna till att spola banan."),
            ("elin", "Gärna belysning så att den går att använda efter skolan."),
        ),
        steps=("under_review", "accepted"),
        answer="Kommunen spolar en isbana i Stadsparken från december, med belysning "
        "till klockan 21. Arbetsgruppen Kultur och fritid planerar skötseln "
        "tillsammans med föreningarna.",
        assign_to="Kultur och fritid",
    ),
    DemoProposal(
        "Ta ner skyltar från stängda butiker",
        "Längs Storgatan sitter skyltar kvar från butiker som stängt för flera år sedan. "
        "Be fastighetsägarna ta ner dem, så att centrum ser levande ut och nya "
        "företagare syns.",
        "business",
        author="per_erik",
        place=("Storgatan, Jokkmokk", 66.6055, 19.8280),
        supporters=("karin", "ingrid", "lars"),
        comments=(
            ("sofia", "De tomma skyltfönstren kunde visa lokala konstnärers verk i stället."),
        ),
        steps=("under_review",),
    ),
    DemoProposal(
        "Hundbajs på gatorna",
        "En besökare på medborgarkontoret berättar att det ligger mycket hundbajs längs "
        "gångvägarna vid skolan och Storgatan. Fler papperskorgar med påsar och skyltar "
        "som påminner hundägare behövs.",
        "environment",
        author=STAFF.key,
        channel="drop_in",
        contact="Besökare på medborgarkontoret, nås på 070-000 00 00",
        supporters=("elin", "johan", "emma"),
        comments=(("lars", "Trafik och gator tar gärna upp papperskorgarna vid gångvägarna."),),
    ),
    DemoProposal(
        "A polar zoo in Jokkmokk",
        "A small zoo with Arctic animals (reindeer, Arctic fox, snowy owl) would draw "
        "visitors all year round and give summer jobs to young people who come home "
        "after their studies.",
        "leisure",
        author="emma",
        supporters=("sofia",),
        comments=(
            ("per_erik", "Intressant, men djurskyddet och de långa vintrarna måste utredas noga."),
        ),
    ),
)

PROJECTS = (
    DemoProject(
        "Isbanan i Stadsparken",
        "Skidklubben och hembygdsföreningen spolar och sköter isbanan i Stadsparken "
        "tillsammans med kommunen, och ordnar skridskodisco på sportlovet.",
        lead="Jokkmokks skidklubb",
        admin="johan",
        partners=("Jokkmokks hembygdsförening",),
        origin=RINK,
        steps=("active",),
    ),
)


def sibling_client(client, service: str):
    """An RPC proxy to another service over the same connection as `client` (a nameko
    Client bound to one service, as `civic seed` hands the loader)."""
    from nameko.rpc import Client

    return Client(client.publish, client.register_for_reply, client.context_data, service)


@contextmanager
def _proposals_running():
    """Say which service is missing (`civic seed` would otherwise blame groups)."""
    from nameko.exceptions import RpcTimeout, UnknownService

    try:
        yield
    except UnknownService:
        raise RuntimeError(
            "the proposals service is not running: start it with `civic up`"
        ) from None
    except RpcTimeout:
        raise RuntimeError(
            "the proposals service did not answer in time: is it running? (`civic status`)"
        ) from None


def _still_to_take(current: str, path: tuple[str, ...], start: str) -> list[str]:
    """The steps of `path` not taken yet by something now in `current`; none when it
    went elsewhere (it is left as it is)."""
    full = (start,) + tuple(path)
    if current not in full:
        return []
    return list(full[full.index(current) + 1 :])


class ProposalsDemo:
    """Files the demo proposals and projects through the proposals service, as the demo
    residents (their actor dicts are what the gateway would pass).

    Assigning to a working group and registering a project need the proposals service's
    read models of groups and memberships, which fill from the groups service's events
    a moment after the groups were created: those calls are retried for a while.
    """

    def __init__(self, proposals, loader: DemoLoader):
        self.proposals = proposals
        self.loader = loader

    # --- is it there? -------------------------------------------------------------------

    def _find(self, title: str) -> dict | None:
        listing = self.proposals.list_proposals(None, q=title, per_page=100)
        for item in listing["items"]:
            if item["title"] == title:
                return item
        return None

    def _find_project(self, title: str, lead_id: str) -> dict | None:
        listing = self.proposals.list_projects(None, group_id=lead_id, per_page=100)
        for item in listing["items"]:
            if item["title"] == title:
                return item
        return None

    def is_loaded(self, groups: dict[str, dict]) -> bool:
        with _proposals_running():
            return self._is_loaded(groups)

    def _is_loaded(self, groups: dict[str, dict]) -> bool:
        for demo in PROPOSALS:
            found = self._find(demo.title)
            if found is None or _still_to_take(found["status"], demo.steps, "submitted"):
                return False
            if found["support_count"] < len(demo.supporters):
                return False
            full = self.proposals.get_proposal(None, found["id"])
            if len(full["comments"]) < len(demo.comments):
                return False
            if demo.assign_to and found["assigned_group_id"] is None:
                return False
        for demo in PROJECTS:
            lead = groups.get(demo.lead.casefold())
            found = lead and self._find_project(demo.title, lead["id"])
            if not found or _still_to_take(found["status"], demo.steps, "planned"):
                return False
        return True

    # --- loading ------------------------------------------------------------------------

    def load(self, groups: dict[str, dict]) -> None:
        with _proposals_running():
            self._load(groups)

    def _load(self, groups: dict[str, dict]) -> None:
        titles = {}
        for demo in PROPOSALS:
            titles[demo.title] = self._proposal(demo, groups)
        for demo in PROJECTS:
            self._project(demo, groups, titles)

    def _proposal(self, demo: DemoProposal, groups: dict[str, dict]) -> dict:
        from civic.errors import Conflict, ValidationError

        say, staff = self.loader.say, self.loader.actor(STAFF.key)
        found = self._find(demo.title)
        created = found is None
        if created:
            payload = {
                "title": demo.title,
                "body": demo.body,
                "category": demo.category,
                "channel": demo.channel,
            }
            if demo.place:
                name, lat, lon = demo.place
                payload["location"] = {"name": name, "lat": lat, "lon": lon}
            if demo.contact:
                payload["contact"] = demo.contact
            found = self.proposals.submit_proposal(self.loader.actor(demo.author), payload)
        self.loader._report(created, f"proposal {demo.title}")
        proposal_id = found["id"]
        for key in demo.supporters:
            try:
                self.proposals.support(self.loader.actor(key), proposal_id)
                self.loader.created += 1
            except Conflict:  # supports it already
                pass
        comments = self.proposals.get_proposal(None, proposal_id)["comments"]
        written = {(c["author_id"], c["body"]) for c in comments}
        for key, text in demo.comments:
            if (self.loader.ids[key], text) not in written:
                self.proposals.add_comment(self.loader.actor(key), proposal_id, {"body": text})
                self.loader.created += 1
        current = self.proposals.get_proposal(staff, proposal_id)
        for status in _still_to_take(current["status"], demo.steps, "submitted"):
            payload = {"status": status}
            if status in ("accepted", "rejected"):
                payload["answer"] = demo.answer
            current = self.proposals.transition(staff, proposal_id, payload)
            self.loader.created += 1
            say(f"  {demo.title}: {status}")
        if demo.assign_to:
            group = groups[demo.assign_to.casefold()]
            if current["assigned_group_id"] is None:  # staff may have moved it since
                current = eventually(
                    lambda: self.proposals.assign(staff, proposal_id, {"group_id": group["id"]}),
                    ValidationError,
                )
                self.loader.created += 1
                say(f"  {demo.title}: assigned to {demo.assign_to}")
        return current

    def _project(
        self, demo: DemoProject, groups: dict[str, dict], proposals: dict[str, dict]
    ) -> None:
        from civic.errors import Conflict, Forbidden, ValidationError

        lead = groups[demo.lead.casefold()]
        admin = self.loader.actor(demo.admin)
        found = self._find_project(demo.title, lead["id"])
        created = found is None
        if created:
            payload = {
                "title": demo.title,
                "description": demo.description,
                "lead_group_id": lead["id"],
                "partner_group_ids": [groups[name.casefold()]["id"] for name in demo.partners],
                "origin_proposal_id": proposals[demo.origin]["id"] if demo.origin else None,
            }
            found = eventually(
                lambda: self.proposals.register_project(admin, payload), Forbidden, ValidationError
            )
        self.loader._report(created, f"project {demo.title}")
        for name in demo.partners:
            group_id = groups[name.casefold()]["id"]
            if group_id not in found["partner_group_ids"]:
                try:
                    found = self.proposals.add_partner(admin, found["id"], {"group_id": group_id})
                    self.loader.created += 1
                except Conflict:
                    pass
        for status in _still_to_take(found["status"], demo.steps, "planned"):
            found = self.proposals.transition_project(admin, found["id"], {"status": status})
            self.loader.created += 1
            self.loader.say(f"  {demo.title}: {status}")


# --- openings for returnees -------------------------------------------------------------


@dataclass(frozen=True)
class DemoOpening:
    title: str
    description: str
    business: str  # group name; its admin posts the opening
    admin: str  # Person.key of that admin
    sector: str
    employment_type: str
    contact: str
    location: str | None = "Jokkmokk"
    remote: bool = False
    apply_in_days: int = 45  # apply-by date, counted from the day of seeding
    start_in_days: int | None = None
    salary: tuple[int, int] | None = None  # kronor a month


@dataclass(frozen=True)
class DemoProfile:
    person: str  # Person.key of the returnee
    sectors: tuple[str, ...]
    employment_types: tuple[str, ...]
    available_in_days: int
    message: str | None = None


OPENINGS = (
    DemoOpening(
        "Naturguide vid viltparken",
        "Guida besöksgrupper bland fjällräv, järv och lodjur, och berätta om djurens "
        "liv i fjällvärlden. Du talar svenska och engelska; samiska eller tyska är ett "
        "plus.",
        business="Jokkmokks viltpark",
        admin="ingrid",
        sector="tourism",
        employment_type="summer_job",
        contact="jobb@viltpark.jokkmokk.example",
        apply_in_days=60,
        start_in_days=150,
        salary=(24000, 27000),
    ),
    DemoOpening(
        "Djurskötare, säsongsanställning",
        "Utfodring och skötsel av parkens djur under sommar- och höstsäsongen, "
        "tillsammans med våra djurvårdare.",
        business="Jokkmokks viltpark",
        admin="ingrid",
        sector="tourism",
        employment_type="seasonal",
        contact="jobb@viltpark.jokkmokk.example",
        apply_in_days=45,
        start_in_days=120,
    ),
    DemoOpening(
        "Drifttekniker vattenkraft",
        "Underhåll och drift av aggregaten i Porjus kraftstation. Civilingenjör eller "
        "högskoleingenjör inom el- eller maskinteknik; nyexaminerade välkomna.",
        business="Vattenfall Porjus",
        admin="lars",
        sector="energy",
        employment_type="full_time",
        contact="rekrytering.porjus@vattenfall.example",
        location="Porjus",
        apply_in_days=30,
        salary=(38000, 46000),
    ),
    DemoOpening(
        "Sjuksköterska till hälsocentralen",
        "Legitimerad sjuksköterska till mottagning och hemsjukvård. Introduktion med "
        "erfaren kollega; bostad kan ordnas.",
        business="Jokkmokks hälsocentral",
        admin="karin",
        sector="health_care",
        employment_type="full_time",
        contact="Karin Labba, 0971-000 00",
        apply_in_days=40,
        start_in_days=90,
        salary=(36000, 42000),
    ),
)

PROFILES = (
    DemoProfile(
        "emma",
        ("tourism", "culture"),
        ("summer_job", "seasonal", "full_time"),
        available_in_days=100,
        message="Back home after a master's in Tourism in Umeå; speaks Swedish, "
        "English and some Northern Sami.",
    ),
    DemoProfile(
        "elin",
        ("health_care",),
        ("full_time", "part_time"),
        available_in_days=60,
        message="Nyutexaminerad sjuksköterska från Luleå tekniska universitet.",
    ),
)


@contextmanager
def _openings_calls():
    """Say which service did not answer (`civic seed` would otherwise blame groups)."""
    from nameko.exceptions import RpcTimeout

    try:
        yield
    except RpcTimeout:
        raise RuntimeError(
            "the openings service did not answer in time: is it running? (`civic status`)"
        ) from None


class OpeningsDemo:
    """Saves the demo returnee profiles and posts the demo openings through the openings
    service, as the demo residents and business admins.

    Openings are kept open: one whose apply-by date has passed is posted again with
    fresh dates (counted from the day of seeding). Posting needs the openings service's
    read models of the businesses (verified, admins), which fill from the groups
    service's events a moment after the groups were created and verified: posting is
    retried for a while. Without a running openings service this part is skipped, with
    a word, so the rest of the demo still loads.
    """

    def __init__(self, openings, loader: DemoLoader):
        self.openings = openings
        self.loader = loader
        self.skipped = False

    def _running(self, call):
        """`call()`, or None when the openings service is not running (said once)."""
        from nameko.exceptions import UnknownService

        if self.skipped:
            return None
        try:
            with _openings_calls():
                return call()
        except UnknownService:
            self.skipped = True
            self.loader.say(
                "  the openings service is not running: demo openings and "
                "returnee profiles skipped (`civic seed` again once it runs)"
            )
            return None

    def _open_titles(self, group_id: str, actor: dict | None = None) -> set[str]:
        listing = self.openings.list_group_openings(actor, group_id, per_page=100)
        return {item["title"] for item in listing["items"] if item["status"] == "open"}

    def is_loaded(self, groups: dict[str, dict]) -> bool:
        """True when every demo opening is open on its business's page."""

        def check():
            for demo in OPENINGS:
                business = groups.get(demo.business.casefold())
                if business is None or demo.title not in self._open_titles(business["id"]):
                    return False
            return True

        found = self._running(check)
        return True if found is None else found

    def load(self, groups: dict[str, dict]) -> None:
        self._running(lambda: self._load(groups))

    def _load(self, groups: dict[str, dict]) -> None:
        from datetime import timedelta

        from civic.errors import NotFound

        today = clock.to_town(clock.utcnow()).date()
        for demo in PROFILES:
            returnee = self.loader.actor(demo.person)
            try:
                self.openings.get_profile(returnee)
                created = False
            except NotFound:
                self.openings.save_profile(
                    returnee,
                    {
                        "sectors": list(demo.sectors),
                        "employment_types": list(demo.employment_types),
                        "available_from": clock.iso(today + timedelta(days=demo.available_in_days)),
                        "message": demo.message,
                    },
                )
                created = True
            self.loader._report(created, f"returnee profile of {demo.person}")
        for demo in OPENINGS:
            self._opening(demo, groups, today)

    def _opening(self, demo: DemoOpening, groups: dict[str, dict], today) -> None:
        from datetime import timedelta

        from civic.errors import Forbidden, ValidationError

        business = groups[demo.business.casefold()]
        admin = self.loader.actor(demo.admin)
        created = demo.title not in self._open_titles(business["id"], admin)
        if created:
            payload = {
                "business_group_id": business["id"],
                "title": demo.title,
                "description": demo.description,
                "sector": demo.sector,
                "employment_type": demo.employment_type,
                "contact": demo.contact,
                "location": demo.location,
                "remote": demo.remote,
                "apply_by": clock.iso(today + timedelta(days=demo.apply_in_days)),
            }
            if demo.start_in_days is not None:
                payload["start_date"] = clock.iso(today + timedelta(days=demo.start_in_days))
            if demo.salary is not None:
                payload["salary_min"], payload["salary_max"] = demo.salary
            eventually(
                lambda: self.openings.post_opening(admin, payload), Forbidden, ValidationError
            )
        self.loader._report(created, f"opening {demo.title}")


# --- events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoEvent:
    title: str
    kind: str
    description: str
    group: str  # name of the organiser group
    organiser: str  # Person.key of its admin (or STAFF.key)
    days_ahead: int  # from the day the demo is loaded
    start: tuple[int, int]  # hour and minute in the town's time zone
    hours: float
    location: str
    capacity: int | None = None
    online_url: str | None = None
    registrants: tuple[str, ...] = ()  # Person.keys, in the order they register


EVENTS = (
    DemoEvent(
        "Allmänt möte: Jokkmokks centrum",
        "town_hall",
        "Kommunen och arbetsgrupperna berättar om planerna för Storgatan och torget. "
        "Alla är välkomna med frågor och förslag; mötet sänds också digitalt.",
        group="Trafik och gator",
        organiser="lars",
        days_ahead=12,
        start=(18, 0),
        hours=2,
        location="Folkets hus, Jokkmokk",
        online_url="https://meet.jokkmokk.example/centrum",
        registrants=("karin", "johan", "emma", "per_erik"),
    ),
    DemoEvent(
        "Städdag vid Talvatissjön",
        "clean_up_day",
        "Vi plockar skräp längs stranden och badplatsen. Handskar, påsar och fika finns "
        "på plats. Få platser: anmäl dig så hamnar du annars på väntelistan.",
        group="Jokkmokks hembygdsförening",
        organiser="per_erik",
        days_ahead=9,
        start=(10, 0),
        hours=3,
        location="Talvatissjön, badplatsen",
        capacity=3,
        registrants=("ingrid", "lars", "elin", "sofia", "emma"),
    ),
    DemoEvent(
        "Utbildning: Modernt ledarskap för förtroendevalda och tjänstepersoner",
        "training",
        "En heldag om tillitsbaserat ledarskap, medborgardialog och hur man leder "
        "förändring i en liten kommun.",
        group="Kultur och fritid",
        organiser=STAFF.key,
        days_ahead=20,
        start=(9, 0),
        hours=7,
        location="Kommunhuset, sammanträdesrummet Ájtte",
        capacity=25,
        registrants=("karin", "lars"),
    ),
    DemoEvent(
        "Utbildning för nya politiker",
        "training",
        "Introduktion för nyvalda fritidspolitiker: hur kommunen styrs, nämndernas "
        "arbete, jäv och offentlighet.",
        group="Trafik och gator",
        organiser=STAFF.key,
        days_ahead=27,
        start=(17, 30),
        hours=3,
        location="Kommunhuset, sessionssalen",
        capacity=30,
        online_url="https://meet.jokkmokk.example/nya-politiker",
        registrants=("ingrid",),
    ),
    DemoEvent(
        "Frukostmöte: strategiska partnerskap",
        "meeting",
        "Föreningar och företag i nätverket träffas över frukost för att hitta "
        "gemensamma projekt och partnerskap inför nästa säsong.",
        group=NETWORK,
        organiser="per_erik",
        days_ahead=6,
        start=(7, 30),
        hours=1.5,
        location="Jokkmokks konditori, vid torget",
        capacity=20,
        registrants=("sofia", "johan"),
    ),
)


@contextmanager
def _events_running():
    """Say which service is missing (`civic seed` would otherwise blame groups)."""
    from nameko.exceptions import RpcTimeout, UnknownService

    try:
        yield
    except UnknownService:
        raise RuntimeError("the events service is not running: start it with `civic up`") from None
    except RpcTimeout:
        raise RuntimeError(
            "the events service did not answer in time: is it running? (`civic status`)"
        ) from None


class EventsDemo:
    """Schedules the demo events through the events service as their organisers (the
    actor dicts the gateway would pass), and registers the demo residents.

    An event is found again by its title among its organiser group's events, so a
    second load schedules nothing twice. Scheduling needs the events service's read
    model of groups and their admins, which fills from the groups service's events a
    moment after the groups were created: it is retried for a while.
    """

    def __init__(self, events, loader: DemoLoader):
        self.events = events
        self.loader = loader

    def _find(self, demo: DemoEvent, group_id: str) -> dict | None:
        page = 1
        while True:
            listing = self.events.list_events(None, group_id=group_id, page=page, per_page=100)
            for item in listing["items"]:
                if item["title"] == demo.title:
                    return item
            if page * listing["per_page"] >= listing["total"] or not listing["items"]:
                return None
            page += 1

    def is_loaded(self, groups: dict[str, dict]) -> bool:
        with _events_running():
            for demo in EVENTS:
                group = groups.get(demo.group.casefold())
                found = group and self._find(demo, group["id"])
                if not found:
                    return False
                if found["status"] == "scheduled" and found["confirmed_count"] + found[
                    "waitlist_count"
                ] < len(demo.registrants):
                    return False
            return True

    def load(self, groups: dict[str, dict]) -> None:
        with _events_running():
            for demo in EVENTS:
                self._event(demo, groups[demo.group.casefold()])

    def _times(self, demo: DemoEvent):
        from datetime import datetime, timedelta

        zone = clock.town_zone()
        day = clock.to_town(clock.utcnow()).date() + timedelta(days=demo.days_ahead)
        starts_at = datetime(day.year, day.month, day.day, *demo.start, tzinfo=zone)
        return starts_at, starts_at + timedelta(hours=demo.hours)

    def _event(self, demo: DemoEvent, group: dict) -> None:
        from civic.errors import Conflict, Forbidden, ValidationError

        found = self._find(demo, group["id"])
        created = found is None
        if created:
            starts_at, ends_at = self._times(demo)
            payload = {
                "title": demo.title,
                "kind": demo.kind,
                "description": demo.description,
                "starts_at": clock.iso(starts_at),
                "ends_at": clock.iso(ends_at),
                "location": demo.location,
                "capacity": demo.capacity,
                "online_url": demo.online_url,
                "organiser_group_id": group["id"],
            }
            # Until the events service knows the group (Forbidden, ValidationError).
            found = eventually(
                lambda: self.events.create_event(self.loader.actor(demo.organiser), payload),
                Forbidden,
                ValidationError,
            )
        self.loader._report(created, f"event {demo.title}")
        for key in demo.registrants:
            try:
                self.events.register(self.loader.actor(key), found["id"])
                self.loader.created += 1
            except Conflict:  # registered already, or registration has closed
                pass
