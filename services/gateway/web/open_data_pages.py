"""Open data: the public page listing Civic's anonymised datasets, the files themselves
(CSV and JSON) and their DCAT-AP catalogue (JSON-LD) for the national data portal
(dataportal.se) to harvest. A mixin of `GatewayService`.

The rows come from the notifications service's open-data read model
(`open_dataset`, `open_data_catalogue`), built from the services' events; no account
id, name, email or contact line is in them (services/notifications/opendata.py). Anyone
may have them, under CC0.
"""

from __future__ import annotations

import csv
import io
import json

from werkzeug.wrappers import Response

from civic import config
from civic.errors import NotFound
from services.gateway.web import i18n
from services.gateway.web.handler import Page, web

CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
DATASETS = ("proposals", "events", "projects", "openings")
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
    "events, joint projects and openings. Updated as things happen."
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


def catalogue_document(datasets: list[dict], base: str) -> dict:
    """The DCAT-AP catalogue (JSON-LD) of the datasets (as open_data_catalogue gives
    them), with `base` the site's public address."""
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

    @web("GET", "/open-data")
    def web_open_data(self, page: Page):
        parts = page.gather(catalogue=lambda: self.services.notifications.open_data_catalogue())
        catalogue = parts["catalogue"]
        datasets = []
        if catalogue:
            for item in catalogue["datasets"]:
                title, description = TEXTS[item["name"]]
                datasets.append(
                    {**item, "title": title, "description": description, "formats": MEDIA_TYPES}
                )
        return page.render(
            "open_data.html", catalogue=catalogue, datasets=datasets, licence_url=CC0
        )

    @web("GET", "/open-data/catalog.jsonld", auth="anyone")
    def web_open_data_catalogue(self, page: Page):
        catalogue = self.services.notifications.open_data_catalogue()
        document = catalogue_document(catalogue["datasets"], self._open_data_base(page))
        return _file(
            json.dumps(document, ensure_ascii=False, indent=2),
            "application/ld+json; charset=utf-8",
        )

    @web("GET", "/open-data/<file>", auth="anyone")
    def web_open_data_file(self, page: Page, file):
        name, dot, fmt = str(file).rpartition(".")
        if not dot or name not in DATASETS or fmt not in MEDIA_TYPES:
            raise NotFound("no such open dataset")
        dataset = self.services.notifications.open_dataset(name)
        if fmt == "csv":
            return _file(csv_text(dataset), "text/csv; charset=utf-8")
        url = f"{self._open_data_base(page)}/open-data/{name}.json"
        return _file(
            json.dumps(json_document(dataset, url), ensure_ascii=False, indent=2),
            "application/json; charset=utf-8",
        )
