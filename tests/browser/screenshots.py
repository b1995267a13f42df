"""`make screenshots`: a full-page PNG of every page of tests/browser/pages.py, in Swedish
and English, on a phone (390×844) and a desktop (1280×800), taken from the whole
platform started by the browser tests' harness (demo data included):

    python -m tests.browser.screenshots [--out var/screenshots] [--pages 'event*' ...]

Each file is `<out>/<page>-<sv|en>-<phone|desktop>.png`. A page that fails (an error
status, or no answer) is reported and the others are still taken; the exit code is 1
then. The platform is always stopped at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

from tests.browser.harness import (
    LANGUAGES,
    ROOT,
    VIEWPORTS,
    PlatformError,
    Site,
    launch_browser,
    open_context,
    start_playwright,
)
from tests.browser.pages import PAGES, PageSpec

DEFAULT_OUT = ROOT / "var" / "screenshots"


def take(site: Site, browser, out: Path, pages: list[PageSpec]) -> tuple[int, list[str]]:
    """The screenshots of `pages`: how many were written, and the problems met."""
    shots = [
        (spec, lang, viewport) for spec in pages for lang in LANGUAGES for viewport in VIEWPORTS
    ]
    written, problems = 0, []
    for number, (spec, lang, viewport) in enumerate(shots, start=1):
        path = out / f"{spec.name}-{lang}-{viewport}.png"
        context = None
        try:
            context = open_context(browser, site, lang, viewport=viewport, role=spec.role)
            page = context.new_page()
            response = page.goto(site.url(spec.path))
            status = response.status if response is not None else None
            page.screenshot(path=str(path), full_page=True)
            written += 1
            note = "" if status == 200 else f"  (status {status})"
            if status != 200:
                problems.append(f"{path.name}: {spec.path} answered {status}")
        except Exception as exc:  # one page's failure should not cost the others
            note = f"  FAILED: {str(exc).splitlines()[0]}"
            problems.append(f"{path.name}: {exc}")
        finally:
            if context is not None:
                context.close()
        print(f"[{number}/{len(shots)}] {path.name}{note}", flush=True)
    return written, problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.browser.screenshots",
        description="A PNG of every page of the website, in both languages, phone and desktop.",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default {DEFAULT_OUT}")
    parser.add_argument(
        "--pages",
        nargs="+",
        metavar="PATTERN",
        help="only the pages whose names match one of these (shell-style: 'event*')",
    )
    args = parser.parse_args(argv)
    pages = [
        spec
        for spec in PAGES
        if not args.pages or any(fnmatch(spec.name, pattern) for pattern in args.pages)
    ]
    if not pages:
        parser.error(f"no page matches {' '.join(args.pages)}")
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    try:
        site = Site.start()
    except PlatformError as exc:
        print(f"the platform did not start: {exc}", file=sys.stderr)
        return 1
    try:
        playwright = start_playwright()
        try:
            browser = launch_browser(playwright)
            try:
                written, problems = take(site, browser, out, pages)
            finally:
                browser.close()
        finally:
            playwright.stop()
    finally:
        site.stop()
    print(f"{written} screenshots in {out} ({time.monotonic() - began:.0f}s)")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
