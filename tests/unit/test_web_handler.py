"""Pure rules of the website's handler: where a visitor may be sent back to, CSRF
tokens, and one submission per rendered form."""

from __future__ import annotations

import eventlet
import pytest
from werkzeug.wrappers import Response

from services.gateway.web.handler import FormKeys, csrf_token_for, safe_next


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/me", "/me"),
        ("/proposals?q=is&page=2", "/proposals?q=is&page=2"),
        ("//evil.example/", None),
        ("https://evil.example/", None),
        ("/\\evil.example", None),
        ("me", None),
        ("", None),
        (None, None),
        ("/" + "a" * 600, None),
    ],
)
def test_only_paths_of_this_site_are_places_to_go_back_to(given, expected):
    assert safe_next(given) == expected


def test_a_csrf_token_belongs_to_its_cookie():
    token = csrf_token_for("cookie-one")
    assert token == csrf_token_for("cookie-one")
    assert token != csrf_token_for("cookie-two")
    assert len(token) == 64


def redirect(location):
    return Response(status=303, headers={"Location": location})


def test_a_form_submitted_twice_does_its_work_once():
    keys = FormKeys()
    calls = []

    def submit():
        calls.append(1)
        return redirect(f"/proposals/{len(calls)}")

    first = keys.run("visitor|form", submit)
    again = keys.run("visitor|form", submit)
    assert calls == [1]
    assert first.headers["Location"] == again.headers["Location"] == "/proposals/1"
    assert again.status_code == 303
    other = keys.run("visitor|other-form", submit)
    assert other.headers["Location"] == "/proposals/2"


def test_a_repeat_that_arrives_meanwhile_waits_for_the_first():
    keys = FormKeys()
    started = eventlet.event.Event()
    release = eventlet.event.Event()
    calls = []

    def slow_submit():
        calls.append(1)
        started.send(True)
        release.wait()
        return redirect("/groups/1")

    first = eventlet.spawn(keys.run, "k", slow_submit)
    started.wait()
    second = eventlet.spawn(keys.run, "k", slow_submit)
    eventlet.sleep(0)  # let the repeat reach its wait
    release.send(True)
    assert first.wait().headers["Location"] == "/groups/1"
    assert second.wait().headers["Location"] == "/groups/1"
    assert calls == [1]


def test_a_refused_form_can_be_sent_again():
    keys = FormKeys()
    answers = iter([Response("errors", status=400), redirect("/done")])
    assert keys.run("k", lambda: next(answers)).status_code == 400
    assert keys.run("k", lambda: next(answers)).headers["Location"] == "/done"


def test_forms_are_forgotten_after_a_day_and_within_bounds():
    keys = FormKeys(ttl=0.0, entries=2)
    keys.run("a", lambda: redirect("/a"))
    assert keys.run("a", lambda: redirect("/a2")).headers["Location"] == "/a2"
    bounded = FormKeys(entries=2)
    for name in "abc":
        bounded.run(name, lambda name=name: redirect(f"/{name}"))
    assert len(bounded._done) == 2
