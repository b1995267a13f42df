"""Accounts in the browser: registering and confirming the email address by the emailed
link, signing in and out, My page, downloading my data and erasing the account — and
that signing out and erasing end the session at once, that a form without its CSRF
token changes nothing, that a register form sent twice makes one account, and that all
of it can be done with the keyboard alone.

Each test that changes an account makes its own (the platform is shared by the run)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser.harness import LANGUAGES, MAIL_TIMEOUT, ROLES, SESSION_COOKIE, wait_until

PASSWORD = "a long enough password 2026"
# How many Tab presses may lead to one element before the test gives up.
TAB_LIMIT = 40


def new_email(name: str) -> str:
    return f"{name.lower()}.{uuid.uuid4().hex[:10]}@example.org"


def new_account(site, name: str, locale: str = "sv") -> str:
    """A fresh account made over the API; its email address (password PASSWORD)."""
    email = new_email(name)
    site.api.post(
        "/accounts",
        {"email": email, "password": PASSWORD, "display_name": name, "locale": locale},
        expect=201,
    )
    return email


def session_cookie(context) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == SESSION_COOKIE)


def described_by(page, field_id: str) -> list[str]:
    return (page.locator(f"#{field_id}").get_attribute("aria-describedby") or "").split()


def confirmation_link(site, email: str, subject: str) -> str:
    mail = site.mail(to=email, subject_contains=subject)
    return next(link for link in mail.links if "/confirm/" in link)


# --- registering and confirming -----------------------------------------------------------


def test_register_then_confirm_by_the_emailed_link(site, new_context, check_accessibility):
    page = new_context("sv").new_page()
    page.goto("/register")
    form = page.locator('form[action="/register"]')
    # Swedish is chosen for a Swedish page; she picks English for herself.
    expect(form.locator('input[name="locale"][value="sv"]')).to_be_checked()
    email = new_email("Anna")
    form.locator("#field-display_name").fill("Anna Test")
    form.locator("#field-email").fill(email)
    form.locator("#field-password").fill(PASSWORD)
    form.locator('input[name="locale"][value="en"]').check()
    form.locator("button[type=submit]").click()

    # Signed in at once, on My page in her own language, asked to confirm.
    expect(page).to_have_url(re.compile(r"/me$"))
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.locator(".notice")).to_contain_text("Welcome to Civic, Anna Test!")
    unconfirmed = page.locator("section.confirm-email")
    expect(unconfirmed).to_contain_text("Confirm your email address")
    check_accessibility(page, "my page, unconfirmed (en)")

    link = confirmation_link(site, email, "Confirm your email address")
    assert link.startswith(site.base_url + "/confirm/")
    token = site.api.sign_in(email, PASSWORD)

    # Opening the link changes nothing (mail scanners follow links): its button does.
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Confirm your email address")
    check_accessibility(page, "confirmation link (en)")
    assert site.api.get("/me", token=token)["email_confirmed"] is False
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/confirmed$"))
    expect(page.locator("h1")).to_have_text("Your email address is confirmed")
    check_accessibility(page, "confirmed (en)")
    assert site.api.get("/me", token=token)["email_confirmed"] is True

    page.goto("/me")
    expect(page.locator("h1")).to_have_text("My page")
    expect(page.locator("section.confirm-email")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Address confirmed")


def test_a_new_confirmation_email_on_request(site, new_context, sign_in):
    email = new_account(site, "Bo")
    site.mail(to=email, subject_contains="Bekräfta")
    page = new_context("sv").new_page()
    sign_in(page, email, PASSWORD)
    page.goto("/me")
    page.locator("section.confirm-email button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/me$"))
    expect(page.locator(".notice")).to_contain_text("Vi har skickat ett nytt bekräftelsemejl")
    wait_until(
        lambda: len(site.mails(to=email, subject_contains="Bekräfta")) == 2,
        MAIL_TIMEOUT,
        "a second confirmation email",
    )
    # The newest link confirms (the first one stays valid too).
    page.goto(confirmation_link(site, email, "Bekräfta"))
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/confirmed$"))
    page.goto("/me")
    expect(page.locator("section.confirm-email")).to_have_count(0)


def test_a_link_that_does_not_work_says_what_to_do(site, new_context, check_accessibility):
    for lang in LANGUAGES:
        page = new_context(lang).new_page()
        response = page.goto("/confirm/not-a-real-token")
        assert response.status == 400
        expect(page.locator("h1")).to_have_text(
            {"sv": "Länken fungerar inte", "en": "The link does not work"}[lang]
        )
        expect(page.locator('main a[href="/signin?next=/me"]')).to_be_visible()
        check_accessibility(page, f"confirmation link not valid ({lang})")


# --- signing in and out -----------------------------------------------------------------


def test_sign_in_goes_back_where_asked_and_sign_out_says_so(site, new_context):
    email = new_account(site, "Cecilia")
    page = new_context("sv").new_page()
    page.goto("/me/erase")
    expect(page).to_have_url(re.compile(r"/signin\?next=/me/erase$"))
    form = page.locator('form[action="/signin"]')
    form.locator("#field-email").fill(email)
    form.locator("#field-password").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/me/erase$"))

    # Signed in, the sign-in and register pages lead to My page.
    page.goto("/signin")
    expect(page).to_have_url(re.compile(r"/me$"))
    page.goto("/register")
    expect(page).to_have_url(re.compile(r"/me$"))

    page.locator('header form[action="/signout"] button').click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".notice")).to_have_text("Du är utloggad.")
    expect(page.locator('header a[href="/signin"]')).to_be_visible()


def test_sign_out_ends_the_session_at_once(site, new_context, sign_in):
    email = new_account(site, "David")
    first = new_context("sv")
    page = first.new_page()
    sign_in(page, email, PASSWORD)
    old_session = session_cookie(first)
    page.locator('header form[action="/signout"] button').click()
    expect(page).to_have_url(re.compile(r"/$"))
    assert SESSION_COOKIE not in {c["name"] for c in first.cookies()}

    # The old cookie, kept elsewhere, no longer opens anything.
    other = new_context("sv")
    other.add_cookies([{"name": SESSION_COOKIE, "value": old_session, "url": site.base_url}])
    stale = other.new_page()
    stale.goto("/me")
    expect(stale).to_have_url(re.compile(r"/signin\?next=/me$"))
    assert site.api.request("GET", "/me", token=old_session).status_code == 401


def test_wrong_password_is_one_error_tied_to_the_field(site, new_context, check_accessibility):
    email = new_account(site, "Erik")
    for lang in LANGUAGES:
        page = new_context(lang).new_page()
        page.goto("/signin")
        form = page.locator('form[action="/signin"]')
        form.locator("#field-email").fill(email)
        form.locator("#field-password").fill("not the password")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/signin$"))
        wrong = {
            "sv": "E-postadressen eller lösenordet är fel.",
            "en": "The email address or the password is wrong.",
        }[lang]
        summary = page.locator("#error-summary")
        expect(summary.locator("li")).to_have_count(1)
        expect(summary.locator('a[href="#field-password"]')).to_have_text(wrong)
        expect(page.locator("#error-password")).to_contain_text(wrong)
        assert "error-password" in described_by(page, "field-password")
        assert page.locator("#field-password").get_attribute("aria-invalid") == "true"
        # The address is kept, the password never sent back.
        expect(page.locator("#field-email")).to_have_value(email)
        expect(page.locator("#field-password")).to_have_value("")
        assert PASSWORD not in page.content() and "not the password" not in page.content()
        check_accessibility(page, f"sign in, wrong password ({lang})")


def test_bad_input_on_register_is_shown_by_each_field(site, new_context, check_accessibility):
    for lang in LANGUAGES:
        page = new_context(lang).new_page()
        page.goto("/register")
        check_accessibility(page, f"register ({lang})")
        form = page.locator('form[action="/register"]')
        form.locator("#field-email").fill("not-an-address")
        form.locator("#field-password").fill("short")
        form.locator("button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/register$"))

        summary = page.locator("#error-summary")
        for field in ("display_name", "email", "password"):
            expect(summary.locator(f'a[href="#field-{field}"]')).to_have_count(1)
            expect(page.locator(f"#error-{field}")).to_be_visible()
            assert described_by(page, f"field-{field}") == [f"hint-{field}", f"error-{field}"]
        password_hint = {"sv": "Minst 10 tecken", "en": "At least 10 characters"}[lang]
        expect(page.locator("#hint-password")).to_contain_text(password_hint)
        expect(page.locator("#field-email")).to_have_value("not-an-address")
        expect(page.locator("#field-password")).to_have_value("")
        check_accessibility(page, f"register with errors ({lang})")


def test_an_email_address_in_use_is_said_by_the_email_field(site, new_context):
    email = new_account(site, "Frida")
    page = new_context("en").new_page()
    page.goto("/register")
    form = page.locator('form[action="/register"]')
    form.locator("#field-display_name").fill("Another Frida")
    form.locator("#field-email").fill(email)
    form.locator("#field-password").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page.locator("#error-email")).to_contain_text("exists already")
    expect(page.locator("#field-display_name")).to_have_value("Another Frida")
    expect(page.locator("#field-password")).to_have_value("")


# --- my page, my data, erasure ------------------------------------------------------------


def test_my_page_shows_what_i_take_part_in(site, new_context):
    page = new_context("en", role="returnee").new_page()
    page.goto("/me")
    me = site.api.get("/me", token=site.api.sign_in("returnee"))
    expect(page.locator("h1")).to_have_text("My page")
    main = page.locator("main")
    expect(main).to_contain_text(ROLES["returnee"])
    for membership in me["memberships"]:
        expect(main.locator(f'a[href="/groups/{membership["group_id"]}"]')).to_be_visible()
    for path in ("/me/returnee", "/me/preferences", "/me/export", "/me/erase"):
        expect(main.locator(f'a[href="{path}"]').first).to_be_visible()
    expect(page.locator("#my-returnee + dl")).to_contain_text("Tourism")


def test_my_data_downloads_as_json(site, new_context, sign_in, tmp_path):
    email = new_account(site, "Gustav")
    context = new_context("sv")
    page = context.new_page()
    sign_in(page, email, PASSWORD)
    page.goto("/me")
    with page.expect_download() as download:
        page.locator('main a[href="/me/export"]').first.click()
    assert download.value.suggested_filename == "civic-my-data.json"
    saved = tmp_path / "my-data.json"
    download.value.save_as(saved)
    data = json.loads(Path(saved).read_text(encoding="utf-8"))
    assert data["groups"]["account"]["email"] == email
    answer = context.request.get(site.base_url + "/me/export")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/json")


def test_erasing_asks_first_then_ends_the_session_and_the_account(
    site, new_context, sign_in, check_accessibility
):
    email = new_account(site, "Hanna")
    context = new_context("sv")
    page = context.new_page()
    sign_in(page, email, PASSWORD)
    old_session = session_cookie(context)
    page.goto("/me")
    page.locator('main a[href="/me/erase"]').click()
    expect(page.locator("h1")).to_have_text("Radera mitt konto")
    check_accessibility(page, "erase (sv)")

    # Not ticked: nothing is erased, the box says why.
    page.locator("form button.danger").click()
    expect(page.locator("#error-understood")).to_be_visible()
    assert described_by(page, "field-understood") == ["error-understood"]
    check_accessibility(page, "erase with errors (sv)")
    assert site.api.request("GET", "/me", token=old_session).status_code == 200

    page.locator("#field-understood").check()
    page.locator("form button.danger").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".notice")).to_contain_text("Ditt konto är raderat")
    expect(page.locator('header a[href="/signin"]')).to_be_visible()

    other = new_context("sv")
    other.add_cookies([{"name": SESSION_COOKIE, "value": old_session, "url": site.base_url}])
    stale = other.new_page()
    stale.goto("/me")
    expect(stale).to_have_url(re.compile(r"/signin\?next=/me$"))
    stale.locator("#field-email").fill(email)
    stale.locator("#field-password").fill(PASSWORD)
    stale.locator('form[action="/signin"] button[type=submit]').click()
    expect(stale.locator("#error-password")).to_contain_text("lösenordet är fel")
    signing_in = site.api.request("POST", "/sessions", json={"email": email, "password": PASSWORD})
    assert signing_in.status_code == 401


# --- forms: CSRF and double submits -----------------------------------------------------


def test_a_form_without_its_csrf_token_changes_nothing(site, new_context, sign_in):
    email = new_account(site, "Ivar")
    context = new_context("sv")
    page = context.new_page()
    sign_in(page, email, PASSWORD)
    page.goto("/me/erase")
    form_key = page.locator('form[action="/me/erase"] input[name="form_key"]').input_value()
    url = site.base_url + "/me/erase"
    for refused in (
        {"understood": "yes", "form_key": form_key},
        {"understood": "yes", "form_key": form_key, "csrf_token": "0" * 64},
    ):
        answer = context.request.post(url, form=refused, max_redirects=0)
        assert answer.status == 403, answer.status
        assert "text/html" in answer.headers["content-type"]
    # Still there, still signed in.
    assert site.api.get("/me", token=session_cookie(context))["email"] == email
    page.goto("/me")
    expect(page.locator("h1")).to_have_text("Mina sidor")


def test_the_register_form_sent_twice_makes_one_account(site, new_context):
    context = new_context("sv")
    page = context.new_page()
    page.goto("/register")
    form = page.locator('form[action="/register"]')
    email = new_email("Jonna")
    fields = {
        "csrf_token": form.locator('input[name="csrf_token"]').input_value(),
        "form_key": form.locator('input[name="form_key"]').input_value(),
        "display_name": "Jonna Test",
        "email": email,
        "password": PASSWORD,
        "locale": "sv",
    }
    url = site.base_url + "/register"
    first = context.request.post(url, form=fields, max_redirects=0)
    assert first.status == 303 and first.headers["location"] == "/me"
    # The first answer signed the browser in; the same form again is still the same form.
    again = context.request.post(url, form=fields, max_redirects=0)
    assert again.status == 303 and again.headers["location"] == "/me"
    # Another rendered form (another key) is another registration: the address is taken.
    fresh = {**fields, "form_key": uuid.uuid4().hex}
    taken = context.request.post(url, form=fresh, max_redirects=0)
    assert taken.status == 409
    page.goto("/me")
    expect(page.locator("main")).to_contain_text(email)


# --- the keyboard alone ---------------------------------------------------------------------


def tab_to(page, selector: str) -> None:
    """Press Tab until `selector` has the focus."""
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{TAB_LIMIT} presses of Tab never reached {selector}")


def test_register_sign_out_and_in_with_the_keyboard_only(site, new_context):
    page = new_context("sv").new_page()
    page.goto("/")
    tab_to(page, 'header a[href="/register"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/register$"))

    email = new_email("Karin")
    typed = {"display_name": "Karin Tangent", "email": email, "password": PASSWORD}
    for field, text in typed.items():
        tab_to(page, f"#field-{field}")
        page.keyboard.type(text)
    tab_to(page, 'input[name="locale"]')
    page.keyboard.press("Space")  # Svenska, the focused choice, stays chosen
    tab_to(page, 'form[action="/register"] button[type=submit]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/me$"))
    expect(page.locator("h1")).to_have_text("Mina sidor")

    tab_to(page, 'header form[action="/signout"] button')
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"/$"))
    tab_to(page, 'header a[href="/signin"]')
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/signin$"))
    tab_to(page, "#field-email")
    page.keyboard.type(email)
    tab_to(page, "#field-password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/me$"))
    expect(page.locator("h1")).to_have_text("Mina sidor")
    expect(page.locator("main")).to_contain_text(email)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_account_page_is_accessible(lang, site, new_context, sign_in, check_accessibility):
    """Every page of the area, signed out and in, in each language: one <h1>, the
    language set, axe-core finds nothing."""
    email = new_account(site, f"Lisa{lang}", locale=lang)
    subject = {"sv": "Bekräfta", "en": "Confirm"}[lang]
    link = urlsplit(confirmation_link(site, email, subject)).path
    page = new_context(lang).new_page()

    def visit(label: str, path: str | None = None, status: int = 200):
        if path is not None:
            response = page.goto(path)
            assert response.status == status, f"{path}: {response.status}"
            if path in ("/register", "/signin", link):  # forms with this browser's token
                assert response.headers["cache-control"] == "no-store"
        assert page.locator("html").get_attribute("lang") == lang
        expect(page.locator("h1")).to_have_count(1)
        check_accessibility(page, f"{label} ({lang})")

    visit("register", "/register")
    visit("sign in", "/signin")
    visit("confirmed, signed out", "/confirmed")
    visit("confirmation link, signed out", link)
    visit("confirmation link not valid", "/confirm/not-a-real-token", status=400)
    sign_in(page, email, PASSWORD)
    visit("my page, unconfirmed", "/me")
    visit("confirmation link, signed in", link)
    visit("erase", "/me/erase")
    page.locator("form button.danger").click()
    visit("erase, box not ticked")
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/confirmed$"))
    visit("confirmed, signed in")
    visit("my page, confirmed", "/me")
    visit("confirmation link, confirmed already", link)
