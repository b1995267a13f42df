"""The whole Civic platform for the browser tests and `make screenshots`.

`Site.start()` runs the platform the way `make run` does: `civic up` as a subprocess, so
every service is its own process and the Jokkmokk demo data is seeded. It runs on its
own, beside anything else on the machine: a fresh RabbitMQ vhost (made through the
management API, deleted by `stop()`), a temporary CIVIC_VAR_DIR holding the SQLite
databases (CIVIC_DATABASE_URL unset), free ports for the website and for the local mail
catcher that `civic up` starts when no CIVIC_SMTP_HOST is set, and short email and outbox
intervals so that effects show up within a second or two.

Plain Python, usable from pytest (tests/browser/conftest.py) and from a script
(tests/browser/screenshots.py): it imports nothing of the test suite, whose conftest
monkey-patches the process for eventlet.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlsplit

import greenlet
import requests

import demo
from civic import mailcatcher

ROOT = Path(__file__).resolve().parents[2]
CIVIC = Path(sys.executable).with_name("civic")
# Where the staff console's browser tests leave screenshots to look at (var/ is ignored).
STAFF_SHOTS = ROOT / "var" / "screenshots" / "staff"

# The local RabbitMQ (as in .ci/run and the rest of the test suite), unless
# CIVIC_BROWSER_AMQP (host:port) and CIVIC_BROWSER_RABBIT_MANAGEMENT (its management
# API's URL) name another, e.g. a node of one's own on a machine whose broker is busy.
RABBIT_ADDRESS = os.environ.get("CIVIC_BROWSER_AMQP", "127.0.0.1:5672")
RABBIT_MANAGEMENT = os.environ.get("CIVIC_BROWSER_RABBIT_MANAGEMENT", "http://127.0.0.1:15672")
RABBIT_USER = RABBIT_PASSWORD = "guest"

# `civic up` waits this long for every service to answer its health check (its own
# default of 60 s is short on a busy machine); the whole command, demo data included,
# gets START_TIMEOUT.
SERVICES_WAIT = 120
START_TIMEOUT = 300.0
STOP_TIMEOUT = 60.0
REQUEST_TIMEOUT = 15.0
MAIL_TIMEOUT = 30.0

DEFAULT_PASSWORD = demo.DEFAULT_PASSWORD
LANGUAGES = ("sv", "en")
# Playwright's locale and the Accept-Language a browser set to that language sends.
LOCALES = {"sv": "sv-SE", "en": "en-GB"}
ACCEPT_LANGUAGES = {"sv": "sv-SE,sv;q=0.9", "en": "en-GB,en;q=0.9"}
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}
TIMEZONE = "Europe/Stockholm"
# How long a Playwright action or navigation may take before the test fails.
BROWSER_TIMEOUT_MS = 20_000

# The browser contexts open_context made with JavaScript off (axe-core needs it on: see
# tests/browser/accessibility.py).
JAVASCRIPT_OFF = weakref.WeakSet()

# The website's cookies (services/gateway/web/handler.py and i18n.py; test_harness.py
# checks that they still have these names).
SESSION_COOKIE = "civic_session"
LANGUAGE_COOKIE = "civic_lang"


def _demo_email(key: str) -> str:
    people = {person.key: person for person in (*demo.RESIDENTS, demo.STAFF)}
    return people[key].email


# Who plays which part, from the demo data (demo/__init__.py); test_harness.py checks each
# against the running platform.
ROLES = {
    # Member of a working group, an association and a business, registered for events,
    # admin of nothing.
    "resident": _demo_email("elin"),
    # Admin of Jokkmokks hembygdsförening, a closed association (join requests come to
    # her), partner in the joint project, admin of the network.
    "association_admin": _demo_email("per_erik"),
    # Admin of Jokkmokks viltpark, a verified business whose openings are in tourism.
    "business_admin": _demo_email("ingrid"),
    # Admin of the working group Trafik och gator, which organises the town-hall meeting.
    "organiser": _demo_email("lars"),
    # Returnee profile in tourism (the viltpark's openings match it); prefers English.
    "returnee": _demo_email("emma"),
    "staff": demo.STAFF.email,
    # Admin of Jokkmokks skidklubb, the lead group of the joint project.
    "project_lead": _demo_email("johan"),
}

# Placeholders a page's path may hold, and the API list whose first item fills each.
PLACEHOLDERS = {
    "proposal": ("/proposals", {}),
    "group": ("/groups", {}),
    "working_group": ("/groups", {"kind": "working_group"}),
    "association": ("/groups", {"kind": "association"}),
    "business": ("/groups", {"kind": "business"}),
    "network": ("/groups", {"kind": "network"}),
    "event": ("/events", {}),
    "opening": ("/openings", {}),
    "project": ("/projects", {}),
    "consultation": ("/consultations", {}),
    # Drafts are staff's only: `as_role` lists them as that role.
    "draft_consultation": ("/consultations", {"status": "draft", "as_role": "staff"}),
}


class PlatformError(RuntimeError):
    """The platform did not start (the message says why, with the services' output)."""


def wait_until(predicate, timeout: float, message: str, interval: float = 0.1):
    """Poll until `predicate()` is truthy and return its value; AssertionError at the
    deadline. (tests.conftest.wait_for, without importing tests.conftest, which
    monkey-patches the process for eventlet.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with_credentials(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{RABBIT_USER}:{RABBIT_PASSWORD}@{parts.netloc}").geturl()


def role_email(role_or_email: str) -> str:
    """The email address of a role of ROLES; an email address stays as it is."""
    if role_or_email in ROLES:
        return ROLES[role_or_email]
    if "@" not in role_or_email:
        raise KeyError(f"no role {role_or_email!r}: the roles are {', '.join(ROLES)}")
    return role_or_email


# --- RabbitMQ ---------------------------------------------------------------------------


class Vhost:
    """A RabbitMQ vhost of its own, made and deleted through the management API."""

    def __init__(self, name: str):
        self.name = name
        self._url = f"{RABBIT_MANAGEMENT}/api/vhosts/{quote(name, safe='')}"
        self._auth = (RABBIT_USER, RABBIT_PASSWORD)

    @property
    def amqp_uri(self) -> str:
        vhost = quote(self.name, safe="")
        return f"amqp://{RABBIT_USER}:{RABBIT_PASSWORD}@{RABBIT_ADDRESS}/{vhost}"

    def create(self) -> None:
        try:
            made = requests.put(self._url, auth=self._auth, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as exc:
            raise PlatformError(
                f"RabbitMQ's management API at {RABBIT_MANAGEMENT} does not answer ({exc}); "
                "is rabbitmq-server running with the rabbitmq_management plugin?"
            ) from None
        if made.status_code not in (201, 204):
            raise PlatformError(f"cannot create the vhost {self.name}: {made.status_code}")
        permissions = requests.put(
            f"{RABBIT_MANAGEMENT}/api/permissions/{quote(self.name, safe='')}/{RABBIT_USER}",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=self._auth,
            timeout=REQUEST_TIMEOUT,
        )
        if permissions.status_code not in (201, 204):
            self.delete()
            raise PlatformError(f"cannot give {RABBIT_USER} the vhost {self.name}")

    def delete(self) -> None:
        try:
            requests.delete(self._url, auth=self._auth, timeout=REQUEST_TIMEOUT)
        except requests.RequestException:
            pass  # the broker is gone: so is the vhost's traffic; nothing else to do


# --- the API ----------------------------------------------------------------------------


class ApiError(AssertionError):
    """An API answer with another status than the caller expected."""


class Api:
    """A small client of /api/v1: `get`/`post`/`put`/`delete` return the JSON answer
    (None when it has no body) and fail on any status but the expected one (by default
    any 2xx); `request` returns the raw `requests.Response`."""

    def __init__(self, base_url: str):
        self.base_url = f"{base_url}/api/v1"
        self.http = requests.Session()

    def request(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return self.http.request(method, self.base_url + path, headers=headers, **kwargs)

    def call(self, method: str, path: str, token=None, expect: int | None = None, **kwargs):
        response = self.request(method, path, token=token, **kwargs)
        expected = response.status_code == expect if expect else response.ok
        if not expected:
            raise ApiError(
                f"{method} /api/v1{path}: {response.status_code} "
                f"(expected {expect or '2xx'}): {response.text[:500]}"
            )
        return response.json() if response.content else None

    def get(self, path: str, token=None, expect=None, **params):
        return self.call("GET", path, token=token, expect=expect, params=params)

    def post(self, path: str, json=None, token=None, expect=None):
        return self.call("POST", path, token=token, expect=expect, json=json or {})

    def put(self, path: str, json=None, token=None, expect=None):
        return self.call("PUT", path, token=token, expect=expect, json=json or {})

    def delete(self, path: str, token=None, expect=None):
        return self.call("DELETE", path, token=token, expect=expect)

    def sign_in(self, role_or_email: str, password: str = DEFAULT_PASSWORD) -> str:
        """A session token of the account (a role of ROLES or an email address)."""
        answer = self.post(
            "/sessions", {"email": role_email(role_or_email), "password": password}, expect=201
        )
        return answer["token"]

    def items(self, path: str, token=None, **params) -> list[dict]:
        return self.get(path, token=token, **params)["items"]


# --- the platform -----------------------------------------------------------------------


@dataclass
class Site:
    """The running platform: its address, the environment its processes run with, its
    var directory, an API client, its mail."""

    base_url: str
    env: dict
    var_dir: Path
    vhost: Vhost
    workdir: Path
    startup_seconds: float = 0.0
    seed_seconds: float = 0.0
    api: Api = field(init=False)
    # Browser sessions of demo accounts, by (email, language): see `open_context`.
    sessions: dict = field(default_factory=dict, init=False)
    _placeholders: dict = field(default_factory=dict, init=False)
    _stopped: bool = field(default=False, init=False)
    _reaper: int | None = field(default=None, init=False)  # the pipe to the reaper

    def __post_init__(self):
        self.api = Api(self.base_url)

    # --- start and stop ---------------------------------------------------------------

    @classmethod
    def start(cls, seed: bool = True, say=print) -> Site:
        """`civic up` on a vhost, a var directory and ports of its own; PlatformError
        (with the services' last output lines) when it does not come up."""
        vhost = Vhost(f"civic-browser-{uuid.uuid4().hex[:12]}")
        vhost.create()
        workdir = Path(tempfile.mkdtemp(prefix="civic-browser-"))
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("CIVIC_")}
        env.update(
            {
                "CIVIC_AMQP_URI": vhost.amqp_uri,
                "CIVIC_RABBIT_MANAGEMENT_URI": _with_credentials(RABBIT_MANAGEMENT),
                "CIVIC_VAR_DIR": str(workdir / "var"),
                "CIVIC_WEB_ADDRESS": f"127.0.0.1:{port}",
                "CIVIC_PUBLIC_URL": base_url,
                # No CIVIC_SMTP_HOST: `civic up` runs the mail catcher on this port.
                "CIVIC_SMTP_PORT": str(free_port()),
                "CIVIC_EMAIL_INTERVAL": "1",
                "CIVIC_RELAY_INTERVAL": "0.2",
                "CIVIC_RETRY_DELAYS": "0.5,1,2",
                "CIVIC_LOG_LEVEL": "INFO",
                # The stories register several accounts from 127.0.0.1 within the hour.
                "CIVIC_SIGNUP_LIMIT": "1000",
            }
        )
        site = cls(base_url, env, var_dir=workdir / "var", vhost=vhost, workdir=workdir)
        site._reaper = _start_reaper(site)
        try:
            site._up(seed, say)
        except BaseException:
            site.stop()
            raise
        return site

    def _up(self, seed: bool, say) -> None:
        command = [str(CIVIC), "up", "--wait", str(SERVICES_WAIT)]
        if not seed:
            command.append("--no-seed")
        output = self.workdir / "civic-up.out"
        say(f"civic up: {self.base_url}, var {self.var_dir}, vhost {self.vhost.name}")
        began = time.monotonic()
        seeding_began = None
        with open(output, "wb") as stream:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=stream,
                stderr=subprocess.STDOUT,
            )
        # Followed through its output file: no pipe to drain, and the same in a plain
        # process as under eventlet.
        deadline = began + START_TIMEOUT
        while process.poll() is None:
            if seeding_began is None and b"demo data" in output.read_bytes():
                seeding_began = time.monotonic()
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise PlatformError(
                    f"`civic up` did not finish within {START_TIMEOUT:.0f}s\n{self.report(output)}"
                )
            time.sleep(0.2)
        finished = time.monotonic()
        if process.returncode != 0:
            raise PlatformError(
                f"`civic up` failed (exit code {process.returncode})\n{self.report(output)}"
            )
        self.startup_seconds = finished - began
        self.seed_seconds = finished - seeding_began if seeding_began else 0.0
        health = requests.get(f"{self.base_url}/healthz", timeout=REQUEST_TIMEOUT)
        if health.status_code != 200:
            raise PlatformError(f"/healthz answers {health.status_code}\n{self.report(output)}")
        say(
            f"civic up: ready in {self.startup_seconds:.1f}s "
            f"(demo data {self.seed_seconds:.1f}s of it)"
        )

    def report(self, up_output: Path | None = None, lines: int = 25) -> str:
        """`civic up`'s output and the last lines of every process's output file."""
        parts = []
        if up_output is not None:
            parts.append(f"--- {up_output.name}\n{_tail(up_output, 60)}")
        for path in sorted((self.var_dir / "log").glob("*.out")):
            parts.append(f"--- {path}\n{_tail(path, lines)}")
        return "\n".join(parts)

    def stop(self) -> None:
        """`civic down`, the vhost deleted, the var directory removed (kept when
        CIVIC_BROWSER_KEEP=1, to read the logs). Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self.api.http.close()
        tear_down(self.env, self.vhost.name, self.workdir, keep=_keep())
        if _keep():
            print(f"civic down: kept {self.workdir}")
        if self._reaper is not None:
            os.write(self._reaper, b"stopped")
            os.close(self._reaper)

    # --- addresses --------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url + self.resolve(path)

    def resolve(self, path: str) -> str:
        """`path` with its placeholders (`{proposal}`, `{association}`, … see PLACEHOLDERS)
        filled with the id of the first demo item of that kind."""
        names = [name for name in PLACEHOLDERS if "{" + name + "}" in path]
        for name in names:
            if name not in self._placeholders:
                api_path, params = PLACEHOLDERS[name]
                params = dict(params)
                role = params.pop("as_role", None)
                token = self.api.sign_in(role) if role else None
                items = self.api.items(api_path, token=token, **params)
                if not items:
                    raise LookupError(f"nothing for {{{name}}}: GET /api/v1{api_path} is empty")
                self._placeholders[name] = items[0]["id"]
        return path.format(**{name: self._placeholders[name] for name in names})

    # --- accounts ---------------------------------------------------------------------

    def create_staff(self, email: str, name: str, password: str = DEFAULT_PASSWORD) -> str:
        """A staff account (made, or an existing one promoted) by `civic staff create`;
        its password."""
        result = subprocess.run(
            [str(CIVIC), "staff", "create", "--email", email, "--display-name", name],
            cwd=ROOT,
            env={**self.env, "CIVIC_STAFF_PASSWORD": password},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=STOP_TIMEOUT,
        )
        if result.returncode != 0:
            raise AssertionError(f"civic staff create failed: {result.stderr.strip()}")
        return password

    # --- mail -------------------------------------------------------------------------

    @property
    def mail_dir(self) -> Path:
        return mailcatcher.mail_dir({"CIVIC_VAR_DIR": str(self.var_dir)})

    def mails(
        self,
        to: str | None = None,
        subject_contains: str | None = None,
        since: datetime | None = None,
    ) -> list[mailcatcher.MailSummary]:
        """The kept messages that match, newest first (`to`: a role or an address)."""
        address = role_email(to).casefold() if to else None
        found = []
        for summary in mailcatcher.list_messages(self.mail_dir, limit=10_000):
            if since is not None and summary.received_at < since:
                continue
            if address and address not in (r.casefold() for r in summary.recipients):
                continue
            if subject_contains and subject_contains.casefold() not in summary.subject.casefold():
                continue
            found.append(summary)
        return found

    def mail(
        self,
        to: str | None = None,
        subject_contains: str | None = None,
        since: datetime | None = None,
        timeout: float = MAIL_TIMEOUT,
    ) -> mailcatcher.MailMessage:
        """The newest matching email (`.subject`, `.recipients`, `.text`, `.links`),
        waited for up to `timeout` seconds."""

        def newest():
            found = self.mails(to, subject_contains, since)
            return mailcatcher.read_message(self.mail_dir, found[0].id) if found else None

        wanted = ", ".join(
            part
            for part in (
                f"to {role_email(to)}" if to else "",
                f"subject containing {subject_contains!r}" if subject_contains else "",
            )
            if part
        )
        return wait_until(newest, timeout, f"an email {wanted or '(any)'} in {self.mail_dir}")


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _keep() -> bool:
    return os.environ.get("CIVIC_BROWSER_KEEP") == "1"


def tear_down(env: dict, vhost: str, workdir: Path, keep: bool = False) -> None:
    """`civic down` of the platform run with `env`, its vhost deleted and its directory
    removed (unless `keep`)."""
    try:
        subprocess.run(
            [str(CIVIC), "down"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=STOP_TIMEOUT,
        )
    finally:
        Vhost(vhost).delete()
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _start_reaper(site: Site) -> int:
    """A process of its own that tears the platform down if this process ends without
    doing so (killed by a timeout, say): a platform left running holds some fifty
    broker connections and its ports. It waits on a pipe whose writing end only this
    process holds; `Site.stop()` says "stopped" on it, any other end of this process
    closes it unsaid. Returns that writing end."""
    reading, writing = os.pipe()
    command = [sys.executable, "-m", "tests.browser.harness", "reap", str(reading)]
    command += [site.vhost.name, str(site.workdir)]
    harness_settings = {k: v for k, v in os.environ.items() if k.startswith("CIVIC_BROWSER_")}
    subprocess.Popen(
        command,
        cwd=ROOT,
        env={**site.env, **harness_settings},
        pass_fds=(reading,),
        start_new_session=True,  # not stopped by the Ctrl-C meant for the tests
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(reading)
    return writing


def _reap(reading: int, vhost: str, workdir: str) -> None:
    with os.fdopen(reading, "rb") as pipe:
        said = pipe.read()  # until the harness's process closes its end, one way or another
    if not said:
        tear_down(dict(os.environ), vhost, Path(workdir), keep=_keep())


# --- the browser ------------------------------------------------------------------------


def _keep_playwright_greenlets_with_their_parents() -> None:
    """Make Playwright's sync API work in a process that eventlet has monkey-patched
    (tests/conftest.py patches the test process for nameko).

    The sync API runs its event loop in a greenlet of its own (the dispatcher) and each
    event listener in another; when one of them ends, control returns to its parent, the
    greenlet that started it. Under eventlet those greenlets enter eventlet's hub: the
    loop waits in eventlet's select, and a listener that writes to the driver's pipe
    when it is full waits in eventlet's os.write. eventlet's hub then makes itself their
    parent, so when such a greenlet ends, control goes to the idle hub instead: the
    process hangs (seen at `Playwright.stop()` and in `expect_navigation`). The hub
    keeps its ways for every other greenlet; a Playwright greenlet gets its own parent
    back each time the hub resumes it.
    """
    if "eventlet" not in sys.modules:
        return
    from eventlet import patcher
    from eventlet.hubs import hub

    if not patcher.is_monkey_patched("select") or getattr(hub.BaseHub.switch, "_civic", False):
        return
    switch = hub.BaseHub.switch

    def switch_keeping_playwright_parents(self):
        current = greenlet.getcurrent()
        if not type(current).__module__.startswith("playwright."):
            return switch(self)
        parent = current.parent
        try:
            return switch(self)
        finally:
            current.parent = parent

    switch_keeping_playwright_parents._civic = True
    hub.BaseHub.switch = switch_keeping_playwright_parents


def start_playwright():
    """Playwright's sync API (also in an eventlet-patched process); `.stop()` it at the
    end."""
    from playwright.sync_api import sync_playwright

    _keep_playwright_greenlets_with_their_parents()
    return sync_playwright().start()


def launch_browser(playwright):
    """Debian's chromium, headless. Never `playwright install`: it downloads a browser
    build, which these machines cannot fetch."""
    executable = shutil.which("chromium")
    if executable is None:
        raise PlatformError(
            "no `chromium` on PATH: install Debian's package (`apt-get install chromium`; "
            ".ci/run does); `playwright install` does not work here"
        )
    return playwright.chromium.launch(executable_path=executable, headless=True)


def open_context(
    browser,
    site: Site,
    lang: str = "sv",
    javascript: bool = True,
    viewport: str | dict = "desktop",
    role: str | None = None,
):
    """A new browser context speaking `lang` (Swedish: sv-SE, English: en-GB, and the
    Accept-Language of each), in the town's time zone, at a viewport of VIEWPORTS (or a
    {"width", "height"} dict); signed in as `role` (a role of ROLES or an email address
    of a demo account) when given.

    The first context of an account and language signs in through the website's form;
    later ones start from that session's cookies, while the session is still valid."""
    if lang not in LOCALES:
        raise ValueError(f"lang must be one of {', '.join(LOCALES)}, got {lang!r}")
    size = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
    phone = size["width"] < 600
    options = dict(
        base_url=site.base_url,
        locale=LOCALES[lang],
        extra_http_headers={"Accept-Language": ACCEPT_LANGUAGES[lang]},
        timezone_id=TIMEZONE,
        java_script_enabled=javascript,
        viewport=size,
        is_mobile=phone,
        has_touch=phone,
    )
    email = role_email(role) if role else None
    state = site.sessions.get((email, lang)) if email else None
    if state is not None and not _session_valid(site, state):
        state = None
    context = browser.new_context(**options, storage_state=state)
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    if not javascript:
        JAVASCRIPT_OFF.add(context)
    if email and state is None:
        page = context.new_page()
        try:
            sign_in_through_form(page, site.base_url, email)
        finally:
            page.close()
        site.sessions[(email, lang)] = context.storage_state()
    return context


def _session_valid(site: Site, state: dict) -> bool:
    token = next((c["value"] for c in state["cookies"] if c["name"] == SESSION_COOKIE), None)
    return bool(token) and site.api.request("GET", "/me", token=token).status_code == 200


def sign_in_through_form(
    page, base_url: str, role_or_email: str, password: str = DEFAULT_PASSWORD, keep_language=True
) -> None:
    """Sign in with the website's form: GET /signin, fill in email and password, submit,
    and wait to be sent on from /signin. Signing in switches the site to the account's
    own language; with `keep_language` the page is switched back to the language it was
    in (so a Swedish test of an English-speaking account stays Swedish)."""
    email = role_email(role_or_email)
    page.goto(f"{base_url}/signin")
    lang = page.locator("html").get_attribute("lang")
    form = page.locator('form[action="/signin"]')
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    if urlsplit(page.url).path == "/signin":
        problem = page.locator("main").inner_text()[:500] if page.locator("main").count() else ""
        raise AssertionError(f"signing in as {email} failed: still on /signin\n{problem}")
    if keep_language and lang and page.locator("html").get_attribute("lang") != lang:
        page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": lang, "url": base_url}])
        page.reload()


if __name__ == "__main__" and sys.argv[1:2] == ["reap"]:
    _reap(int(sys.argv[2]), *sys.argv[3:5])
