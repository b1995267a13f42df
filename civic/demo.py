"""The Jokkmokk demo data, loaded by `civic seed` (and `civic up`).

Everything except the staff account goes through the running groups service over RPC,
so the events flow exactly as they would for real residents: the other services build
their read models from them. Loading is idempotent step by step: what exists is found
and kept, what is missing is created, so a half-finished load is completed by the next
run and a complete one is left alone.

Every demo account (staff included) signs in with the same password: the environment
variable `CIVIC_DEMO_PASSWORD`, or `DEFAULT_PASSWORD` below.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

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
    admin: str                      # Person.key of the creator (the first admin)
    open: bool = True
    members: tuple[str, ...] = ()   # Person.keys that join (closed group: admin approves)
    verified: bool = False          # associations and businesses that staff verified
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
    DemoGroup("Trafik och gator", "working_group",
              "Arbetsgrupp för trafiksäkerhet, gator, gång- och cykelvägar och snöröjning.",
              admin="lars", members=("karin", "johan", "emma")),
    DemoGroup("Kultur och fritid", "working_group",
              "Arbetsgrupp för kultur, idrott, fritidsgårdar och Jokkmokks marknad.",
              admin="karin", members=("sofia", "elin", "ingrid")),
    DemoGroup(NETWORK, "network",
              "Nätverk där Jokkmokks föreningar och företag driver gemensamma projekt.",
              admin="per_erik", members=("johan", "sofia")),
    DemoGroup("Jokkmokks hembygdsförening", "association",
              "Hembygdsföreningen vårdar bygdens historia, hembygdsgården och slöjden.",
              admin="per_erik", open=False, members=("ingrid", "lars"), verified=True,
              networks=(NETWORK,)),
    DemoGroup("Jokkmokks skidklubb", "association",
              "Längdskidor för alla åldrar: spårdragning, träningar och Jokkmokksloppet.",
              admin="johan", members=("elin", "emma"), verified=True, networks=(NETWORK,)),
    DemoGroup("Jokkmokks konditori", "business",
              "Konditori och café vid torget; söker personal till sommarsäsongen.",
              admin="sofia", open=False, members=("elin",), verified=True,
              networks=(NETWORK,)),
    # Left unverified on purpose: staff can try verifying an organisation in the demo.
    DemoGroup("Lapplands turism AB", "business",
              "Guidade turer, norrskensresor och boende i Lappland.",
              admin="ingrid", open=False, members=(), verified=False),
)


def demo_password(env=None) -> str:
    env = os.environ if env is None else env
    password = env.get("CIVIC_DEMO_PASSWORD") or DEFAULT_PASSWORD
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"CIVIC_DEMO_PASSWORD must be at least {MIN_PASSWORD_LENGTH} "
                         "characters long")
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
    """Loads the demo through `groups` (an RPC proxy to the groups service).

    `create_staff(email, password, display_name) -> (account, created)` makes the staff
    account straight in the groups database (staff cannot be made over the public RPC).
    `say` prints progress.
    """

    def __init__(self, groups, create_staff, password: str, say=print):
        self.groups = groups
        self.create_staff = create_staff
        self.password = password
        self.say = say
        self.created = 0
        self.ids: dict[str, str] = {}

    def load(self) -> bool:
        """Load what is missing; returns False when everything was already there."""
        existing = all_groups(self.groups)
        if is_loaded(existing):
            return False
        self._staff()
        for person in RESIDENTS:
            self._account(person)
        for demo in GROUPS:
            self._group(demo, existing)
        for demo in GROUPS:
            self._networks(demo)
        return True

    def _staff(self) -> None:
        account, created = self.create_staff(STAFF.email, self.password, STAFF.display_name)
        self.ids[STAFF.key] = account["id"]
        self._report(created, f"staff account {STAFF.email}")

    def _account(self, person: Person) -> None:
        from civic.errors import Conflict, Unauthenticated
        try:
            account = self.groups.register_account({
                "email": person.email, "password": self.password,
                "display_name": person.display_name, "locale": person.locale})
            created = True
        except Conflict:
            try:
                session = self.groups.sign_in(person.email, self.password)
            except Unauthenticated:
                raise RuntimeError(
                    f"{person.email} exists but does not accept the demo password "
                    "(was CIVIC_DEMO_PASSWORD different when the demo was loaded?)") from None
            self.groups.sign_out(session["token"])
            account, created = session["account"], False
        self.ids[person.key] = account["id"]
        self._report(created, f"account {person.email}")

    def _group(self, demo: DemoGroup, existing: dict[str, dict]) -> None:
        from civic.errors import Conflict, NotFound
        admin_id = self.ids[demo.admin]
        group = existing.get(demo.name.casefold())
        created = group is None
        if created:
            group = self.groups.create_group(admin_id, {
                "name": demo.name, "kind": demo.kind, "description": demo.description,
                "open": demo.open})
            existing[demo.name.casefold()] = group
        self._report(created, f"group {demo.name}")
        for key in demo.members:
            account_id = self.ids[key]
            try:
                joined = self.groups.join_group(account_id, group["id"])
                pending = joined["status"] == "pending"
                self.created += 1
            except Conflict:  # already a member, or already asked to join
                pending = True
            if pending and not demo.open:
                try:
                    self.groups.approve_member(admin_id, group["id"], account_id)
                except NotFound:  # no pending request: already an active member
                    pass
        if demo.verified and not group.get("verified"):
            try:
                self.groups.verify_group(self.ids[STAFF.key], group["id"])
                self.created += 1
            except Conflict:  # verified meanwhile
                pass
        self.ids["group:" + demo.name] = group["id"]

    def _networks(self, demo: DemoGroup) -> None:
        from civic.errors import Conflict
        for network in demo.networks:
            try:
                self.groups.join_network(self.ids[demo.admin], self.ids["group:" + demo.name],
                                         self.ids["group:" + network])
                self.created += 1
                self.say(f"  {demo.name} joined {network}")
            except Conflict:  # already in it
                pass

    def _report(self, created: bool, what: str) -> None:
        if created:
            self.created += 1
            self.say(f"  created {what}")
        else:
            self.say(f"  found {what}")
