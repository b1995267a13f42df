"""Every page of tests/browser/pages.py renders for the role that may see it, in Swedish
and in English: status 200, `<html lang>` in that language, one main heading, light
(its HTML and the stylesheet under 100 KB, nothing fetched from elsewhere), and
axe-core finds no WCAG 2.1 A/AA violation."""

from __future__ import annotations

import pytest

from tests.browser.harness import LANGUAGES
from tests.browser.pages import PAGES

# HTML + CSS of any page (the "light and fast").
PAGE_WEIGHT_LIMIT = 100_000


def test_every_page_has_a_name_of_its_own():
    names = [spec.name for spec in PAGES]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("spec", PAGES, ids=[spec.name for spec in PAGES])
def test_page_renders_accessibly(spec, lang, site, new_context, check_accessibility):
    page = new_context(lang, role=spec.role).new_page()
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    response = page.goto(site.url(spec.path))
    assert response is not None and response.status == 200, (
        f"{spec.path} as {spec.role or 'visitor'}: {response and response.status}"
    )
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").count() == 1, f"{spec.path}: not one <h1>"
    html = response.body()
    stylesheet = page.request.get(site.url("/static/civic.css")).body()
    assert len(html) + len(stylesheet) < PAGE_WEIGHT_LIMIT, f"{spec.path}: {len(html)} bytes"
    elsewhere = [url for url in fetched if not url.startswith(site.base_url)]
    assert not elsewhere, f"{spec.path} fetched from elsewhere: {elsewhere}"
    check_accessibility(page, f"{spec.name} ({lang})")
