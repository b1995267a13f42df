"""The pages of groups and joint projects, for the render-and-accessibility sweep and
`make screenshots` (see tests/browser/pages.py for placeholders and roles).

`{association}` is the first association by name, Jokkmokks hembygdsförening: closed,
administered by `association_admin`; `{working_group}` is Kultur och fritid, where
`resident` is a member; `{project}` is the newest joint project: the demo's, led by
`project_lead`'s group, unless a test registered another one first (then the page is
shown without the lead's forms).
"""

from __future__ import annotations

from tests.browser.pages import PageSpec

PAGES = [
    PageSpec("groups", "/groups", None),
    PageSpec("groups-working-groups", "/groups?kind=working_group", None),
    PageSpec("groups-associations", "/groups?kind=association", None),
    PageSpec("groups-businesses", "/groups?kind=business", None),
    PageSpec("groups-networks", "/groups?kind=network", None),
    PageSpec("groups-signed-in", "/groups", "resident"),
    PageSpec("group-signed-out", "/groups/{association}", None),
    PageSpec("group-not-a-member", "/groups/{association}", "returnee"),
    PageSpec("group-member", "/groups/{working_group}", "resident"),
    PageSpec("group-admin", "/groups/{association}", "association_admin"),
    PageSpec("group-business", "/groups/{business}", None),
    PageSpec("group-network", "/groups/{network}", None),
    PageSpec("group-new", "/groups/new", "resident"),
    PageSpec("projects", "/projects", None),
    PageSpec("projects-planned", "/projects?status=planned", None),
    PageSpec("project-signed-out", "/projects/{project}", None),
    PageSpec("project-lead-admin", "/projects/{project}", "project_lead"),
    PageSpec("project-new", "/projects/new", "association_admin"),
    PageSpec("project-new-no-group", "/projects/new", "returnee"),
]
