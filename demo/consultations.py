"""The demo's consultation (issue 16): "Lokalt Omvärldsprogram: jobben i Jokkmokk",
anonymous, open from the day before seeding for a month, with a few answers from demo
residents and one interview entered by staff; and a draft staff are still writing (for
the console's edit page), to open in six weeks. Loaded through the consultations service
as the demo staff member and residents; skipped, with a word, when that service is not
running."""

from __future__ import annotations

from datetime import timedelta

from civic import clock

TITLE = "Lokalt Omvärldsprogram: jobben i Jokkmokk"
INDUSTRIES = [
    "Turism",
    "Besöksnäring och kultur",
    "Gruvor och energi",
    "Offentlig sektor",
    "Rennäring och natur",
    "IT och distansarbete",
]
OBSTACLES = ["Bostad", "Jobb för mig", "Jobb för min partner", "Barnomsorg", "Kommunikationer"]
PRIORITIES = ["Jobb", "Bostäder", "Fritid", "Utbildning"]
QUESTIONS = [
    {
        "kind": "single",
        "prompt": "Vilken bransch vill du se växa i Jokkmokk?",
        "options": INDUSTRIES,
        "required": True,
    },
    {"kind": "multiple", "prompt": "Vad hindrar dig från att flytta hem?", "options": OBSTACLES},
    {"kind": "scale", "prompt": "Hur ser du på framtiden för jobben i Jokkmokk? (1–5)"},
    {
        "kind": "ranking",
        "prompt": "Rangordna: Vad är viktigast för att unga ska stanna?",
        "options": PRIORITIES,
    },
    {"kind": "text", "prompt": "Berätta fritt"},
]
DRAFT_TITLE = "Kollektivtrafiken i Jokkmokk"
DRAFT_QUESTIONS = [
    {
        "kind": "single",
        "prompt": "Hur tar du dig oftast till Luleå?",
        "options": ["Buss", "Tåg", "Bil", "Flyg"],
        "required": True,
    },
    {"kind": "text", "prompt": "Vad skulle få dig att åka mer kollektivt?"},
]
# (Person.key or "interview", industry, obstacles, scale, ranking, free text)
ANSWERS = [
    ("karin", "Rennäring och natur", ["Bostad"], 4, ["Jobb", "Bostäder", "Fritid", "Utbildning"],
     "Fler hyresrätter nära centrum."),
    ("sofia", "IT och distansarbete", ["Jobb för min partner", "Kommunikationer"], 3,
     ["Bostäder", "Jobb", "Utbildning", "Fritid"], None),
    ("johan", "Besöksnäring och kultur", ["Bostad", "Barnomsorg"], 4,
     ["Jobb", "Fritid", "Bostäder", "Utbildning"], None),
    ("interview", "Gruvor och energi", ["Jobb för mig"], 2,
     ["Jobb", "Utbildning", "Bostäder", "Fritid"], "Tåget till Luleå behöver gå oftare."),
]  # fmt: skip


class ConsultationsDemo:
    def __init__(self, consultations, loader, staff_key: str = "staff"):
        self.consultations = consultations
        self.loader = loader
        self.staff_key = staff_key
        self.skipped = False

    def _running(self, call):
        from nameko.exceptions import RpcTimeout, UnknownService

        if self.skipped:
            return None
        try:
            return call()
        except (UnknownService, RpcTimeout):
            self.skipped = True
            self.loader.say(
                "  the consultations service is not running: the demo consultation is "
                "skipped (`civic seed` again once it runs)"
            )
            return None

    def _open(self) -> dict | None:
        # Open consultations are public: no actor needed.
        listing = self.consultations.list_consultations(None, status="open", per_page=100)
        return next((c for c in listing["items"] if c["title"] == TITLE), None)

    def is_loaded(self) -> bool:
        return self._running(self._open) is not None or self.skipped

    def load(self) -> None:
        if self._running(self._open) is not None or self.skipped:
            return
        self._load_open()
        self._load_draft()

    def _load_draft(self) -> None:
        now = clock.utcnow()
        self.consultations.create_consultation(
            self.loader.actor(self.staff_key),
            {
                "title": DRAFT_TITLE,
                "intro": "Ett utkast: kommunen vill veta hur invånarna reser till och från "
                "Jokkmokk.",
                "opens_at": clock.iso(now + timedelta(days=42)),
                "closes_at": clock.iso(now + timedelta(days=70)),
                "anonymous": False,
                "categories": ["infrastructure"],
                "questions": DRAFT_QUESTIONS,
            },
        )
        self.loader._report(True, f"draft consultation {DRAFT_TITLE}")

    def _load_open(self) -> None:
        staff = self.loader.actor(self.staff_key)
        now = clock.utcnow()
        created = self.consultations.create_consultation(
            staff,
            {
                "title": TITLE,
                "intro": "Jokkmokks kommun vill veta vad som får unga att stanna och "
                "flytta hem. Svaren är anonyma.",
                "opens_at": clock.iso(now - timedelta(days=1)),
                "closes_at": clock.iso(now + timedelta(days=30)),
                "anonymous": True,
                "categories": ["business", "housing"],
                "questions": QUESTIONS,
            },
        )
        consultation = self.consultations.publish_consultation(staff, created["id"])
        self.loader._report(True, f"consultation {TITLE}")
        ids = [q["id"] for q in consultation["questions"]]
        for who, industry, obstacles, scale, ranking, text in ANSWERS:
            values = [industry, obstacles, scale, ranking, text]
            body = {
                "channel": "interview" if who == "interview" else "online",
                "answers": [
                    {"question_id": qid, "value": value}
                    for qid, value in zip(ids, values, strict=True)
                    if value is not None
                ],
            }
            actor = staff if who == "interview" else self.loader.actor(who)
            self.consultations.submit_answer(actor, consultation["id"], body)
            self.loader.created += 1
