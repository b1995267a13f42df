"""The site's frame: the page about Civic (and its accessibility) and the development
mail page (the platform of the browser tests runs the local mail catcher)."""

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("about", "/about", None),
    PageSpec("about-signed-in", "/about", "resident"),
    PageSpec("dev-mail", "/dev/mail", None),
]
