"""Every page of the website, for the render-and-accessibility test and for
`make screenshots`: a name (the screenshot's file name), a path and who looks at it.

A path may hold placeholders the harness fills with the id of the first demo item of
that kind, from the API: `{proposal}`, `{group}`, `{working_group}`, `{association}`,
`{business}`, `{network}`, `{event}`, `{opening}`, `{project}`, `{consultation}`,
`{draft_consultation}` (looked up as staff; see tests/browser/harness.py, PLACEHOLDERS).
`role` is a role of harness.ROLES (`resident`, `association_admin`, `business_admin`,
`organiser`, `returnee`, `staff`, …) or None for a visitor who is signed out.

Each part of the site lists its pages in a module of its own beside this one,
`pages_<part>.py` with a `PAGES` list; PAGES here is the home page followed by all of
them, in the order of their module names.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import NamedTuple


class PageSpec(NamedTuple):
    name: str
    path: str
    role: str | None


def _parts() -> list[PageSpec]:
    found = []
    for module in sorted(Path(__file__).parent.glob("pages_*.py")):
        found.extend(importlib.import_module(f"{__package__}.{module.stem}").PAGES)
    return found


PAGES = [
    PageSpec("home", "/", None),
    PageSpec("home-signed-in", "/", "resident"),
    *_parts(),
]
