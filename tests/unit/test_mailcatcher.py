"""civic.mailcatcher's reading API and keeping, on files in a temporary directory (the
server itself runs in tests/integration/test_mailcatcher.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from civic import mailcatcher
from civic.mailcatcher import (
    MailSummary,
    is_message_id,
    keep,
    links_in,
    list_messages,
    mail_dir,
    read_message,
)

SUBJECT = "Bekräfta din e-postadress – välkommen till Jokkmokk"
CONFIRM = "http://127.0.0.1:8000/konto/bekrafta?token=YWJj.ZGVm"


def email(subject=SUBJECT, text=None, html=None, to="Karin Labba <karin@jokkmokk.example>"):
    message = EmailMessage()
    message["From"] = "Civic Jokkmokk <civic@localhost>"
    message["To"] = to
    message["Subject"] = subject
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    return message


def kept(directory, message, rcpt_tos=("karin@jokkmokk.example",)) -> str:
    """Keep `message` as the catcher does (SMTP sends CRLF line ends)."""
    content = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    return keep(directory, content, "civic@localhost", list(rcpt_tos))


def test_mail_dir_is_under_the_var_dir(tmp_path):
    assert mail_dir({"CIVIC_VAR_DIR": str(tmp_path)}) == tmp_path / "mail"


def test_a_kept_message_is_listed_and_read_whole(tmp_path):
    text = f"Hej Karin!\n\nBekräfta adressen här: {CONFIRM}.\n\nVälkommen!\n"
    message_id = kept(tmp_path, email(text=text, html=f'<p><a href="{CONFIRM}">Bekräfta</a></p>'))
    assert is_message_id(message_id)
    assert [path.name for path in tmp_path.iterdir()] == [f"{message_id}.eml"]

    (summary,) = list_messages(tmp_path)
    assert summary == MailSummary(
        id=message_id,
        received_at=summary.received_at,
        sender="Civic Jokkmokk <civic@localhost>",
        recipients=("karin@jokkmokk.example",),
        subject=SUBJECT,
    )
    assert summary.received_at.tzinfo is UTC
    assert abs(datetime.now(UTC) - summary.received_at) < timedelta(minutes=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.subject = "changed"

    read = read_message(tmp_path, message_id)
    assert read.id == message_id and read.subject == SUBJECT
    assert read.text == text
    assert read.html == f'<p><a href="{CONFIRM}">Bekräfta</a></p>\n'
    assert read.links == (CONFIRM,)


def test_the_file_is_the_message_as_received_after_the_delivery_headers(tmp_path):
    message = email(text="Hej!\n")
    content = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    message_id = keep(tmp_path, content, "civic@localhost", ["a@x.example", "b@x.example"])
    data = (tmp_path / f"{message_id}.eml").read_bytes()
    assert data == (
        b"Return-Path: <civic@localhost>\r\n"
        b"Delivered-To: a@x.example\r\n"
        b"Delivered-To: b@x.example\r\n" + content
    )
    assert read_message(tmp_path, message_id).recipients == ("a@x.example", "b@x.example")


def test_recipients_fall_back_to_the_headers_without_an_envelope(tmp_path):
    message = email(text="Hej!\n", to="Karin <karin@jokkmokk.example>, per@jokkmokk.example")
    message["Cc"] = "Sofia <sofia@jokkmokk.example>"
    message_id = keep(tmp_path, message.as_bytes())
    assert read_message(tmp_path, message_id).recipients == (
        "karin@jokkmokk.example",
        "per@jokkmokk.example",
        "sofia@jokkmokk.example",
    )


def test_newest_first_and_limited(tmp_path):
    ids = [kept(tmp_path, email(subject=f"Meddelande {n}", text="Hej\n")) for n in range(5)]
    listed = list_messages(tmp_path)
    assert [summary.id for summary in listed] == list(reversed(ids))
    assert [summary.subject for summary in listed[:2]] == ["Meddelande 4", "Meddelande 3"]
    assert [summary.id for summary in list_messages(tmp_path, limit=2)] == ids[:2:-1][:2]
    assert list_messages(tmp_path, limit=0) == []
    with pytest.raises(ValueError):
        list_messages(tmp_path, limit=-1)


def test_ids_sort_by_arrival():
    earlier = mailcatcher.new_message_id(datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC))
    later = mailcatcher.new_message_id(datetime(2026, 2, 1, 0, 0, 0, 1, tzinfo=UTC))
    assert earlier.startswith("20260131T235959.999999-")
    assert earlier < later


def test_a_missing_directory_has_no_messages(tmp_path):
    assert list_messages(tmp_path / "nowhere") == []
    assert read_message(tmp_path / "nowhere", mailcatcher.new_message_id()) is None


def test_half_written_and_foreign_files_are_not_listed(tmp_path):
    message_id = kept(tmp_path, email(text="Hej\n"))
    (tmp_path / f".{mailcatcher.new_message_id()}.tmp").write_bytes(b"Subject: half")
    (tmp_path / "notes.eml").write_bytes(b"Subject: not ours\r\n\r\n")
    (tmp_path / "README").write_text("hello")
    assert [summary.id for summary in list_messages(tmp_path)] == [message_id]
    assert read_message(tmp_path, "notes") is None


@pytest.mark.parametrize(
    "message_id",
    [
        "",
        None,
        42,
        "../secret",
        "../../etc/passwd",
        "20260101T000000.000000-0123456789abcdef0123456789abcdef/../x",
        "20260101T000000.000000-0123456789abcdef0123456789abcdef.eml",
        "20260101T000000.000000-0123456789ABCDEF0123456789ABCDEF",
        "20260101T000000.000000-0123456789abcdef0123456789abcde",
        "20260101T000000.000000-0123456789abcdef0123456789abcdef\n",
        " 20260101T000000.000000-0123456789abcdef0123456789abcdef",
        "/20260101T000000.000000-0123456789abcdef0123456789abcdef",
    ],
)
def test_an_invalid_id_reads_nothing(tmp_path, message_id):
    # Even a file that such a name would reach is not read.
    (tmp_path / "secret.eml").write_bytes(b"Subject: secret\r\n\r\nsecret\r\n")
    inner = tmp_path / "mail"
    inner.mkdir()
    assert read_message(inner, message_id) is None
    assert not is_message_id(message_id)


def test_an_unknown_valid_id_reads_nothing(tmp_path):
    kept(tmp_path, email(text="Hej\n"))
    assert read_message(tmp_path, mailcatcher.new_message_id()) is None


def test_an_html_only_message_is_read_as_text_with_its_links(tmp_path):
    html = (
        "<html><head><title>Ignored</title><style>p { color: red }</style></head><body>"
        "<h1>Hej Karin</h1><p>Ett nytt svar på ditt förslag &amp; mer.</p>"
        f'<p><a href="{CONFIRM}">Läs svaret</a> eller <a href="mailto:x@y.example">skriv</a></p>'
        "<p>https://jokkmokk.example/info</p><script>alert(1)</script></body></html>"
    )
    message_id = kept(tmp_path, email(html=html))
    read = read_message(tmp_path, message_id)
    assert read.html.rstrip("\n") == html
    assert read.text == (
        "Hej Karin\n\nEtt nytt svar på ditt förslag & mer.\n\n"
        f"Läs svaret ({CONFIRM}) eller skriv\n\nhttps://jokkmokk.example/info"
    )
    assert read.links == (CONFIRM, "https://jokkmokk.example/info")


def test_a_message_without_text_has_empty_text(tmp_path):
    message = EmailMessage()
    message["Subject"] = "Bilaga"
    message.set_content(b"\x89PNG", maintype="image", subtype="png")
    read = read_message(tmp_path, keep(tmp_path, message.as_bytes()))
    assert (read.text, read.html, read.links, read.sender) == ("", None, (), "")


def test_links_are_found_once_each_without_the_sentences_punctuation():
    text = (
        "Se https://a.example/x?y=1&z=2, och (http://b.example/sida). "
        "Igen: https://a.example/x?y=1&z=2! Inte ftp://c.example eller http:// ensam."
    )
    assert links_in(text) == ("https://a.example/x?y=1&z=2", "http://b.example/sida")


def test_keeping_leaves_no_temporary_file_behind_on_failure(tmp_path, monkeypatch):
    def refuse(self, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(type(tmp_path), "replace", refuse)
    with pytest.raises(OSError):
        keep(tmp_path, b"Subject: x\r\n\r\nx\r\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "arguments, complaint",
    [
        (["--port", "0", "--dir", "x"], "--port: must be from 1 to 65535"),
        (["--port", "70000", "--dir", "x"], "--port: must be from 1 to 65535"),
        (["--port", "smtp", "--dir", "x"], "--port: not a port number"),
        (["--host", "bad host", "--port", "2525", "--dir", "x"], "--host: not an IP address"),
        (["--port", "2525"], "--dir"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_error(arguments, complaint, capsys):
    assert mailcatcher.main(arguments) == 2
    assert complaint in capsys.readouterr().err


def test_a_dir_that_is_a_file_exits_2(tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert mailcatcher.main(["--port", "2525", "--dir", str(a_file)]) == 2
    assert "not a directory" in capsys.readouterr().err
