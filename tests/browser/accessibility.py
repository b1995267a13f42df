"""axe-core on a page (WCAG 2.0 and 2.1, levels A and AA), with every check of the run
recorded, so the end of the run can say how many pages were checked and what was found.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from tests.browser.harness import JAVASCRIPT_OFF

WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": list(WCAG_TAGS)}, "resultTypes": ["violations"]}
# How much of each violation the failure message shows.
SHOWN_NODES = 3
SHOWN_HTML = 200
HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class Check:
    label: str
    url: str
    violations: int
    rules: tuple[str, ...] = ()


# Every check of this process, in order (the browser run's terminal summary reads it).
CHECKS: list[Check] = []
_axe = None


def run_axe(page) -> list[dict]:
    """axe-core's violations on the page as it is now.

    axe-core runs in the page and waits on timers, which never fire with JavaScript
    off: for a page of such a context it checks a copy of the page (its HTML as the
    browser holds it, its styles and images loaded from the site) in a page of its own
    with JavaScript on."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    if page.context not in JAVASCRIPT_OFF:
        return _axe.run(page, options=AXE_OPTIONS).response["violations"]
    copy_context = page.context.browser.new_context(viewport=page.viewport_size)
    try:
        copy = copy_context.new_page()
        base = f'<base href="{html.escape(page.url)}">'
        document, found = HEAD.subn(lambda head: head.group(0) + base, page.content(), count=1)
        copy.set_content(document if found else base + document)
        return _axe.run(copy, options=AXE_OPTIONS).response["violations"]
    finally:
        copy_context.close()


def check_accessibility(page, label: str) -> None:
    """Assert that axe-core finds no WCAG 2.1 A/AA violation on the page; the check is
    recorded either way."""
    violations = run_axe(page)
    CHECKS.append(Check(label, page.url, len(violations), tuple(v["id"] for v in violations)))
    assert not violations, describe(label, page.url, violations)


def describe(label: str, url: str, violations: list[dict]) -> str:
    lines = [f"axe-core: {len(violations)} violation(s) on {label} ({url})"]
    for violation in violations:
        nodes = violation.get("nodes", [])
        lines.append(
            f"- {violation['id']} [{violation.get('impact') or 'n/a'}] {violation['help']} "
            f"({len(nodes)} element(s)) {violation.get('helpUrl', '')}"
        )
        for node in nodes[:SHOWN_NODES]:
            target = " ".join(str(part) for part in node.get("target", []))
            snippet = " ".join(node.get("html", "").split())[:SHOWN_HTML]
            lines.append(f"    {target}: {snippet}")
            if node.get("failureSummary"):
                summary = " ".join(node["failureSummary"].split())
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def summary() -> list[str]:
    """The run's summary lines: how many checks, of how many pages, and what failed."""
    if not CHECKS:
        return []
    pages = {check.url.split("#", 1)[0] for check in CHECKS}
    failed = [check for check in CHECKS if check.violations]
    violations = sum(check.violations for check in CHECKS)
    lines = [
        f"axe-core: {_count(len(CHECKS), 'page check')} ({_count(len(pages), 'distinct page')}), "
        f"{_count(violations, 'violation')}"
    ]
    for check in failed:
        lines.append(
            f"  {check.label} ({check.url}): {check.violations} ({', '.join(check.rules)})"
        )
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
