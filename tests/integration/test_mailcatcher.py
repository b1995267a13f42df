"""The local mail catcher for real: `python -m civic.mailcatcher` receiving over SMTP, and
`civic up` running it when no SMTP server is configured (so a newcomer's confirmation
email lands in var/mail), `civic status` telling where mail goes, `civic down` stopping
it. Ports are free ones picked by the test (never 1025, never 8000)."""

from __future__ import annotations

import json
import re
import signal
import smtplib
import socket
import subprocess
import sys
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pytest

from civic import config
from civic.cli.supervisor import mail_catcher_answers
from civic.mailcatcher import list_messages, mail_dir, read_message
from tests.conftest import wait_for
from tests.integration.test_cli import civic, free_port

SUBJECT = "Välkommen till Jokkmokk – bekräfta din e-postadress"
LINK = "http://127.0.0.1:8000/confirm/YWJj.ZGVm"


def swedish_email(to: str = "karin.labba@jokkmokk.example") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Civic Jokkmokk <civic@localhost>"
    message["To"] = f"Karin Labba <{to}>"
    message["Subject"] = SUBJECT
    message.set_content(f"Hej Karin!\n\nBekräfta din adress: {LINK}\n\nVälkommen!\n")
    return message


def send(port: int, message: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


# --- the catcher process alone -----------------------------------------------------------


@pytest.fixture
def catcher(tmp_path):
    """`python -m civic.mailcatcher` on a free port, answering; stopped after the test."""
    port = free_port()
    directory = tmp_path / "mail"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "civic.mailcatcher",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or mail_catcher_answers(port, timeout=1),
            message="the mail catcher to answer",
        )
        assert process.poll() is None, process.stdout.read()
        yield process, port, directory
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        process.stdout.close()


def test_the_catcher_keeps_each_message_whole_and_reads_it_back(catcher):
    process, port, directory = catcher
    send(port, swedish_email())
    send(port, swedish_email(to="per-erik.blind@jokkmokk.example"))

    listed = wait_for(lambda: len(list_messages(directory)) == 2 and list_messages(directory))
    assert [summary.recipients for summary in listed] == [
        ("per-erik.blind@jokkmokk.example",),  # newest first
        ("karin.labba@jokkmokk.example",),
    ]
    first = listed[1]
    assert first.subject == SUBJECT
    assert first.sender == "Civic Jokkmokk <civic@localhost>"
    assert first.received_at <= listed[0].received_at
    assert sorted(path.name for path in directory.iterdir()) == sorted(
        f"{summary.id}.eml" for summary in listed
    )  # no temporary file left

    read = read_message(directory, first.id)
    assert read.subject == SUBJECT
    assert read.text == f"Hej Karin!\n\nBekräfta din adress: {LINK}\n\nVälkommen!\n"
    assert read.links == (LINK,)
    assert read.html is None

    for invalid in ("../mail", f"{first.id}.eml", first.id.upper(), f"../mail/{first.id}"):
        assert read_message(directory, invalid) is None

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    output = process.stdout.read()
    assert f"kept {first.id}" in output
    assert "karin" not in output.lower()  # no addresses in its output
    assert "Civic mail catcher stopped" in output


def test_the_catcher_says_clearly_when_its_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "civic.mailcatcher",
                "--port",
                str(port),
                "--dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: the port is taken" in result.stderr
    assert "Traceback" not in result.stderr


# --- civic up / status / down ------------------------------------------------------------


@pytest.fixture
def mail_platform(civic_settings):
    """`civic up` settings with no CIVIC_SMTP_HOST: free ports for the web and the mail
    catcher, mail sent at once, links pointing at this gateway; always `civic down` after."""
    web_port, smtp_port = free_port(), free_port()
    base = f"http://127.0.0.1:{web_port}"
    extra = {
        "CIVIC_WEB_ADDRESS": f"127.0.0.1:{web_port}",
        "CIVIC_SMTP_PORT": str(smtp_port),
        "CIVIC_PUBLIC_URL": base,
        "CIVIC_EMAIL_INTERVAL": "0.5",
    }
    settings = {
        **civic_settings,
        "WEB_SERVER_ADDRESS": extra["CIVIC_WEB_ADDRESS"],
        "CIVIC_SMTP_PORT": smtp_port,
        "CIVIC_PUBLIC_URL": base,
    }
    try:
        yield settings, extra
    finally:
        down = civic(settings, "down", **extra)
        assert down.returncode == 0, down.stderr


def post_json(url: str, body: dict, token: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        url, method="POST", data=json.dumps(body).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def follow_confirmation_link(link: str) -> None:
    """What a newcomer does with the emailed link: open the site's page and press its
    button (a form with the browser's CSRF cookie and token)."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with browser.open(link, timeout=10) as response:
        assert response.status == 200
        page = response.read().decode("utf-8")
    form = {
        name: re.search(rf'name="{name}" value="([^"]*)"', page).group(1)
        for name in ("csrf_token", "form_key")
    }
    button = urllib.request.Request(link, data=urllib.parse.urlencode(form).encode(), method="POST")
    with browser.open(button, timeout=10) as response:  # 303 → the "confirmed" page
        assert response.status == 200 and response.url.endswith("/confirmed")


def get_json(url: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"{}")


def test_up_catches_the_platforms_mail_and_down_stops_the_catcher(mail_platform):
    settings, extra = mail_platform
    port = settings["CIVIC_SMTP_PORT"]
    base = settings["CIVIC_PUBLIC_URL"]
    directory = mail_dir(settings)
    run_dir = Path(settings["CIVIC_VAR_DIR"]) / "run"

    up = civic(settings, "up", "--no-seed", "--wait", "90", timeout=150, **extra)
    assert up.returncode == 0, up.stdout + up.stderr
    lines = up.stdout.splitlines()
    starting = [line.split()[0] for line in lines if " starting (pid " in line]
    assert starting == ["mailcatcher", *config.SERVICES]  # the catcher first
    assert f"Its mail is kept in {directory}: {base}/dev/mail" in up.stdout
    catcher_pid = int((run_dir / "mailcatcher.pid").read_text())
    assert alive(catcher_pid)
    assert mail_catcher_answers(port)

    status = civic(settings, "status", **extra)
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"mailcatcher    running (pid {catcher_pid})" in status.stdout
    assert (
        f"mail           caught locally on 127.0.0.1:{port}, kept in {directory} "
        f"(see {base}/dev/mail)"
    ) in status.stdout
    for service in config.SERVICES:  # the services' lines as before
        assert f"\n{service:<14} running (pid " in f"\n{status.stdout}"

    again = civic(settings, "up", "--no-seed", "--services", "groups", **extra)
    assert again.returncode == 0, again.stderr
    assert f"mailcatcher    already running (pid {catcher_pid})" in again.stdout
    assert int((run_dir / "mailcatcher.pid").read_text()) == catcher_pid

    # An email sent to the port lands in var/mail …
    send(port, swedish_email())
    wait_for(
        lambda: any(summary.subject == SUBJECT for summary in list_messages(directory)),
        message="the test's email in var/mail",
    )

    # … and so does the platform's own: a newcomer registers and follows the link.
    email, password = "ny.invanare@jokkmokk.example", "ett-langt-losenord"
    code, _ = post_json(
        f"{base}/api/v1/accounts",
        {"email": email, "password": password, "display_name": "Ny Invånare"},
    )
    assert code == 201

    def confirmation():
        for summary in list_messages(directory):
            if email in summary.recipients:
                return read_message(directory, summary.id)
        return None

    message = wait_for(confirmation, timeout=30, message="the confirmation email")
    links = [link for link in message.links if link.startswith(f"{base}/confirm/")]
    assert links, message.text
    follow_confirmation_link(links[0])
    _, session = post_json(f"{base}/api/v1/sessions", {"email": email, "password": password})
    _, me = get_json(f"{base}/api/v1/me", session["token"])
    assert me["email_confirmed"] is True

    down = civic(settings, "down", **extra)
    assert down.returncode == 0, down.stderr
    stopping = [line.split()[0] for line in down.stdout.splitlines() if " stopping " in line]
    assert stopping[-1] == "mailcatcher"  # after the services
    assert not list(run_dir.glob("*.pid"))
    wait_for(lambda: not alive(catcher_pid), message="the mail catcher to exit")
    assert not mail_catcher_answers(port)
    assert list_messages(directory)  # the mail stays


def test_up_fails_clearly_when_the_mail_port_is_taken(mail_platform):
    settings, extra = mail_platform
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings["CIVIC_SMTP_PORT"]))
        taken.listen()
        up = civic(settings, "up", "--no-seed", "--wait", "30", timeout=90, **extra)
    assert up.returncode == 1
    port = settings["CIVIC_SMTP_PORT"]
    assert f"the mail catcher cannot listen on 127.0.0.1:{port}" in up.stderr
    assert "CIVIC_SMTP_HOST" in up.stderr and "CIVIC_SMTP_PORT" in up.stderr
    assert "Traceback" not in up.stderr
    assert not list((Path(settings["CIVIC_VAR_DIR"]) / "run").glob("*.pid"))


def test_status_names_the_smtp_server_without_the_login(civic_settings):
    result = civic(
        civic_settings,
        "status",
        "--timeout",
        "0.5",
        CIVIC_SMTP_HOST="smtp.jokkmokk.example",
        CIVIC_SMTP_PORT="587",
        CIVIC_SMTP_TLS="starttls",
        CIVIC_SMTP_USER="civic-mailer",
        CIVIC_SMTP_PASSWORD="hemligt-losenord",
    )
    assert "mail           sent to smtp.jokkmokk.example:587 (starttls)" in result.stdout
    assert "mailcatcher" not in result.stdout  # no catcher when a server is configured
    assert "civic-mailer" not in result.stdout + result.stderr
    assert "hemligt-losenord" not in result.stdout + result.stderr
