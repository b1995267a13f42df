"""Open data: the public page listing Civic's anonymised datasets, the files themselves
(CSV and JSON) and their DCAT-AP catalogue (JSON-LD) for the national data portal
(dataportal.se) to harvest. A mixin of `GatewayService`.

The rows come from the notifications service's open-data read model
(`open_dataset`, `open_data_catalogue`), built from the services' events; no account
id, name, email or contact line is in them (services/notifications/opendata.py). Anyone
may have them, under CC0.

Consultations (issue 16) are asked of the consultations service itself, once their
results are published: `consultations.csv`/`.json`, the results of every published
consultation per question, answer and channel, and `consultations/<id>/answers.csv`,
each one's answers, one row per response — anonymised by that service (no account id,
no name, free texts only when staff approved them).
"""

from __future__ import annotations

import csv
import io
import json

from werkzeug.wrappers import Response

from civic import config
from civic.contracts import CONSULTATION_CHANNELS
from civic.errors import NotFound
from services.gateway.web import i18n
from services.gateway.web.handler import Missing, Page, web

CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
DATASETS = ("proposals", "events", "projects", "openings")
CONSULTATIONS = "consultations"
# The published consultations the open data holds (the newest first; the API's largest
# page).
CONSULTATIONS_MAX = 100
CONSULTATION_FIELDS = (
    "consultation_id",
    "consultation_title",
    "question_number",
    "question",
    "kind",
    "answer",
    "measure",
    "all",
    *CONSULTATION_CHANNELS,
)
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
}
IANA = "http://www.iana.org/assignments/media-types/"
EU_FILE_TYPES = "http://publications.europa.eu/resource/authority/file-type/"
EU_LANGUAGES = "http://publications.europa.eu/resource/authority/language/"
EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/GOVE"


def _(message: str) -> str:
    """Marks a message id for extraction; translated where it is shown."""
    return message


CATALOGUE_TITLE = _("Civic Jokkmokk open data")
CATALOGUE_DESCRIPTION = _(
    "Anonymised open data of Jokkmokk's community-development programme: proposals, "
    "events, joint projects, openings and the results of consultations. Updated as "
    "things happen."
)
PUBLISHER = _("Civic Jokkmokk")
TEXTS = {
    "proposals": (
        _("Proposals"),
        _(
            "Residents' proposals for the town: title, category, how it was handed in, "
            "status, the working group it is assigned to and its number of supports. "
            "No names, no contact details, no account ids."
        ),
    ),
    "events": (
        _("Events"),
        _(
            "Meetings, town halls, clean-up days and other events: title, kind, "
            "organiser group, time, place, capacity and status."
        ),
    ),
    "projects": (
        _("Joint projects"),
        _(
            "Joint projects of associations and groups: title, status, lead and partner "
            "groups and the proposal it came from."
        ),
    ),
    "openings": (
        _("Openings"),
        _(
            "Job openings for people moving back home, posted by verified businesses: "
            "title, business, sector, type of employment, apply-by date and status."
        ),
    ),
    CONSULTATIONS: (
        _("Consultation results"),
        _(
            "The results of the municipality's consultations of residents once they are "
            "published: per question, the answers to each option (ranking: points and mean "
            "rank; scale: each value and the mean), in all and per channel (online, "
            "interview, town-hall meeting). And every answer of each consultation, "
            "anonymised: no account ids, no names, free texts only when staff approved them."
        ),
    ),
}


def _both(message: str) -> dict[str, str]:
    """A message in Swedish and English."""
    return {"sv": i18n.translations("sv").gettext(message), "en": message}


def _lang_values(message: str) -> list[dict]:
    return [{"@value": text, "@language": language} for language, text in _both(message).items()]


def csv_text(dataset: dict) -> str:
    """The dataset as CSV (RFC 4180, a header row; a list is space-separated)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    fields = dataset["fields"]
    writer.writerow(fields)
    for row in dataset["rows"]:
        writer.writerow([_cell(row.get(name)) for name in fields])
    return out.getvalue()


# A spreadsheet reads a cell starting with one of these as a formula: a title such as
# "=HYPERLINK(…)" would run in whoever opens the file (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        text = " ".join(str(item) for item in value)
    elif isinstance(value, (int, float)):
        return str(value)
    else:
        text = str(value)
    # A leading apostrophe keeps it text (OWASP's advice for CSV files).
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def json_document(dataset: dict, url: str) -> dict:
    return {
        "dataset": dataset["name"],
        "license": CC0,
        "modified": dataset["modified"],
        "source": url,
        "fields": dataset["fields"],
        "items": dataset["rows"],
    }


def catalogue_document(datasets: list[dict], base: str, consultations=()) -> dict:
    """The DCAT-AP catalogue (JSON-LD) of the datasets (as open_data_catalogue gives
    them) and of the consultations' results (`consultations`: those with published
    results, as list_consultations gives them; each one's answers a distribution of
    its own), with `base` the site's public address."""
    datasets = [*datasets, consultations_entry(consultations)]
    publisher = {
        "@id": f"{base}/open-data#publisher",
        "@type": "foaf:Agent",
        "foaf:name": _lang_values(PUBLISHER),
    }
    contact = {
        "@id": f"{base}/open-data#contact",
        "@type": "vcard:Organization",
        "vcard:fn": _both(PUBLISHER)["sv"],
        "vcard:hasURL": {"@id": f"{base}/about"},
    }
    entries = []
    for item in datasets:
        name = item["name"]
        title, description = TEXTS[name]
        landing = f"{base}/open-data#{name}"
        dataset = {
            "@id": landing,
            "@type": "dcat:Dataset",
            "dct:identifier": landing,
            "dct:title": _lang_values(title),
            "dct:description": _lang_values(description),
            "dct:publisher": {"@id": publisher["@id"]},
            "dcat:contactPoint": contact,
            "dct:license": {"@id": CC0},
            "dct:accessRights": {
                "@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"
            },
            "dct:language": [{"@id": EU_LANGUAGES + "SWE"}, {"@id": EU_LANGUAGES + "ENG"}],
            "dcat:theme": {"@id": EU_THEME},
            "dcat:keyword": [
                {"@value": "Jokkmokk", "@language": "sv"},
                *_lang_values(title),
            ],
            "dcat:landingPage": {"@id": f"{base}/open-data"},
            "dcat:distribution": [
                {
                    "@id": f"{base}/open-data/{name}.{fmt}",
                    "@type": "dcat:Distribution",
                    "dct:title": [
                        {"@value": f"{text} ({fmt.upper()})", "@language": language}
                        for language, text in _both(title).items()
                    ],
                    "dcat:accessURL": {"@id": f"{base}/open-data"},
                    "dcat:downloadURL": {"@id": f"{base}/open-data/{name}.{fmt}"},
                    "dcat:mediaType": {"@id": IANA + media},
                    "dct:format": {"@id": EU_FILE_TYPES + fmt.upper()},
                    "dct:license": {"@id": CC0},
                }
                for fmt, media in MEDIA_TYPES.items()
            ],
        }
        if name == CONSULTATIONS:
            dataset["dcat:distribution"] += [
                {
                    "@id": f"{base}/open-data/{answers_path(c['id'])}",
                    "@type": "dcat:Distribution",
                    "dct:title": [{"@value": c["title"], "@language": "sv"}],
                    "dcat:accessURL": {"@id": f"{base}/open-data"},
                    "dcat:downloadURL": {"@id": f"{base}/open-data/{answers_path(c['id'])}"},
                    "dcat:mediaType": {"@id": IANA + MEDIA_TYPES["csv"]},
                    "dct:format": {"@id": EU_FILE_TYPES + "CSV"},
                    "dct:license": {"@id": CC0},
                }
                for c in consultations
            ]
        if item.get("modified"):
            dataset["dct:modified"] = {"@value": item["modified"], "@type": "xsd:dateTime"}
        entries.append(dataset)
    modified = max((item["modified"] for item in datasets if item.get("modified")), default=None)
    catalogue = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": f"{base}/open-data/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": _lang_values(CATALOGUE_TITLE),
        "dct:description": _lang_values(CATALOGUE_DESCRIPTION),
        "dct:publisher": publisher,
        "dct:license": {"@id": CC0},
        "dct:language": [{"@id": EU_LANGUAGES + "SWE"}, {"@id": EU_LANGUAGES + "ENG"}],
        "foaf:homepage": {"@id": f"{base}/open-data"},
        "dcat:dataset": entries,
    }
    if modified:
        catalogue["dct:modified"] = {"@value": modified, "@type": "xsd:dateTime"}
    return catalogue


def answers_path(consultation_id: str) -> str:
    """Where a consultation's answers are, under /open-data/."""
    return f"{CONSULTATIONS}/{consultation_id}/answers.csv"


def consultations_entry(consultations) -> dict:
    """The consultations' dataset as open_data_catalogue gives the others."""
    published = [c["results_published_at"] for c in consultations if c.get("results_published_at")]
    return {
        "name": CONSULTATIONS,
        "modified": max(published, default=None),
        "count": len(consultations),
        "fields": list(CONSULTATION_FIELDS),
    }


def _result_rows(consultation: dict, results: dict) -> list[dict]:
    """One consultation's results as rows of CONSULTATION_FIELDS: per question and
    answer, a measure (count; ranking: borda and mean_rank; scale: also its mean) in
    all and per channel. A free-text question has no rows (its approved texts are in
    the answers file)."""
    rows = []
    for number, question in enumerate(results.get("questions") or [], start=1):
        by_channel = question.get("by_channel") or {}
        base = {
            "consultation_id": consultation["id"],
            "consultation_title": consultation["title"],
            "question_number": number,
            "question": question["prompt"],
            "kind": question["kind"],
        }

        def row(answer, measure, total, read, base=base, by_channel=by_channel):
            values = {c: read(by_channel.get(c) or {}) for c in CONSULTATION_CHANNELS}
            return {**base, "answer": answer, "measure": measure, "all": total, **values}

        def entry(tally, key, field):
            found = tally.get("scale" if field == "scale" else "options") or []
            for item in found:
                if item.get("value" if field == "scale" else "option") == key:
                    return item
            return {}

        kind = question["kind"]
        if kind in ("single", "multiple"):
            for item in question.get("options") or []:
                rows.append(
                    row(
                        item["option"],
                        "count",
                        item.get("count", 0),
                        lambda t, o=item["option"]: entry(t, o, "option").get("count", 0),
                    )
                )
        elif kind == "scale":
            for item in question.get("scale") or []:
                rows.append(
                    row(
                        item["value"],
                        "count",
                        item.get("count", 0),
                        lambda t, v=item["value"]: entry(t, v, "scale").get("count", 0),
                    )
                )
            rows.append(row("", "mean", question.get("mean"), lambda t: t.get("mean")))
        elif kind == "ranking":
            for measure in ("borda", "mean_rank"):
                for item in question.get("options") or []:
                    rows.append(
                        row(
                            item["option"],
                            measure,
                            item.get(measure),
                            lambda t, o=item["option"], m=measure: entry(t, o, "option").get(m),
                        )
                    )
    return rows


def consultations_dataset(published: list[dict], results: dict) -> dict:
    """The consultations' results as a dataset (`name`, `fields`, `rows`, `modified`):
    `results` by consultation id (one missing is left out)."""
    rows = []
    for consultation in published:
        found = results.get(consultation["id"])
        if found:
            rows.extend(_result_rows(consultation, found))
    return {**consultations_entry(published), "rows": rows}


def _file(body: str, content_type: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


class OpenDataPages:
    """Entrypoints of the open data; mixed into GatewayService."""

    @staticmethod
    def _open_data_base(page: Page) -> str:
        configured = str(config.get("CIVIC_PUBLIC_URL", "") or "").rstrip("/")
        return configured or page.request.host_url.rstrip("/")

    def _published_consultations(self) -> list[dict]:
        found = self.services.consultations.list_consultations(
            None, status="results_published", per_page=CONSULTATIONS_MAX
        )
        return found["items"]

    @web("GET", "/open-data")
    def web_open_data(self, page: Page):
        parts = page.gather(
            catalogue=lambda: self.services.notifications.open_data_catalogue(),
            consultations=self._published_consultations,
        )
        catalogue = parts["catalogue"]
        datasets = []
        if catalogue:
            for item in catalogue["datasets"]:
                title, description = TEXTS[item["name"]]
                datasets.append(
                    {**item, "title": title, "description": description, "formats": MEDIA_TYPES}
                )
        consultations = parts["consultations"]
        consultations_data = None
        if not isinstance(consultations, Missing):
            title, description = TEXTS[CONSULTATIONS]
            consultations_data = {
                **consultations_entry(consultations),
                "title": title,
                "description": description,
                "formats": MEDIA_TYPES,
                "items": consultations,
            }
        return page.render(
            "open_data.html",
            catalogue=catalogue,
            datasets=datasets,
            consultations=consultations_data,
            licence_url=CC0,
        )

    @web("GET", "/open-data/catalog.jsonld", auth="anyone")
    def web_open_data_catalogue(self, page: Page):
        catalogue = self.services.notifications.open_data_catalogue()
        document = catalogue_document(
            catalogue["datasets"], self._open_data_base(page), self._published_consultations()
        )
        return _file(
            json.dumps(document, ensure_ascii=False, indent=2),
            "application/ld+json; charset=utf-8",
        )

    @web("GET", "/open-data/<file>", auth="anyone")
    def web_open_data_file(self, page: Page, file):
        name, dot, fmt = str(file).rpartition(".")
        if not dot or name not in (*DATASETS, CONSULTATIONS) or fmt not in MEDIA_TYPES:
            raise NotFound("no such open dataset")
        if name == CONSULTATIONS:
            published = self._published_consultations()
            parts = page.gather(
                **{
                    c["id"]: (
                        lambda cid=c["id"]: self.services.consultations.get_results(None, cid)
                    )
                    for c in published
                }
            )
            for value in parts.values():
                if isinstance(value, Missing):
                    raise value.error  # a file with a consultation left out would mislead
            dataset = consultations_dataset(published, parts)
        else:
            dataset = self.services.notifications.open_dataset(name)
        if fmt == "csv":
            return _file(csv_text(dataset), "text/csv; charset=utf-8")
        url = f"{self._open_data_base(page)}/open-data/{name}.json"
        return _file(
            json.dumps(json_document(dataset, url), ensure_ascii=False, indent=2),
            "application/json; charset=utf-8",
        )

    @web("GET", "/open-data/consultations/<uuid:consultation_id>/answers.csv", auth="anyone")
    def web_open_data_consultation_answers(self, page: Page, consultation_id):
        consultation = self.services.consultations.get_consultation(None, consultation_id)
        if consultation["status"] != "results_published":
            raise NotFound("the consultation's answers are not published")
        found = self.services.consultations.answers_csv(None, consultation_id)
        response = _file(found["csv"], "text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="{found["filename"]}"'
        return response
