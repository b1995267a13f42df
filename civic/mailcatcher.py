"""A local mail catcher for development: every email sent to it is kept as one file.

With no CIVIC_SMTP_HOST configured (`CIVIC_MAIL_CATCHER` in civic.config), `civic up`
runs it as its own process on 127.0.0.1:CIVIC_SMTP_PORT:

    python -m civic.mailcatcher --host 127.0.0.1 --port 1025 --dir var/mail

Each message it accepts is written whole (the RFC 5322 bytes as received, with a
`Return-Path` and one `Delivered-To` per envelope recipient put in front, as a mail
server delivering it would) to `<dir>/<UTC yyyymmddTHHMMSS.ffffff>-<uuid4 hex>.eml`:
first under a hidden temporary name, then renamed, so a reader never sees half a
message, and the names sort by arrival.

The reading API (`mail_dir`, `list_messages`, `read_message`) is plain Python for the
website's development page `/dev/mail` and for tests; only the server needs aiosmtpd
and asyncio, imported when it runs.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from html.parser import HTMLParser
from pathlib import Path

# The greeting's words: how `civic up` tells this catcher from another SMTP server.
IDENT = "Civic mail catcher"
SUFFIX = ".eml"
TIME_FORMAT = "%Y%m%dT%H%M%S.%f"
MESSAGE_ID = re.compile(r"\d{8}T\d{6}\.\d{6}-[0-9a-f]{32}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
LINK = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
LINK_TRAILING = ".,;:!?)]}'\""
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# --- reading --------------------------------------------------------------------------


@dataclass(frozen=True)
class MailSummary:
    """One kept message, from its headers: `id` is the file's stem."""

    id: str
    received_at: datetime  # aware, UTC
    sender: str  # the From header as written (decoded), else the envelope sender
    recipients: tuple[str, ...]  # the envelope recipients, else the To and Cc addresses
    subject: str  # decoded (RFC 2047)


@dataclass(frozen=True)
class MailMessage(MailSummary):
    """One kept message whole: its text, its html part, the links in its text."""

    text: str  # the text/plain part, else the text of the html part
    html: str | None
    links: tuple[str, ...]  # http(s) URLs in `text`, in order, each once


def mail_dir(settings: dict) -> Path:
    """Where the catcher keeps mail: `<CIVIC_VAR_DIR>/mail`."""
    return Path(settings["CIVIC_VAR_DIR"]) / "mail"


def is_message_id(value) -> bool:
    """Whether `value` is exactly a kept message's id (nothing else names a file)."""
    return isinstance(value, str) and MESSAGE_ID.fullmatch(value) is not None


def list_messages(directory: Path | str, limit: int = 100) -> list[MailSummary]:
    """The newest `limit` messages kept in `directory`, newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a whole number from 0, got {limit!r}")
    try:
        names = [entry.name for entry in os.scandir(directory)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    stems = sorted(
        (name[: -len(SUFFIX)] for name in names if name.endswith(SUFFIX)),
        reverse=True,
    )
    summaries = []
    for stem in stems:
        if len(summaries) >= limit:
            break
        if not is_message_id(stem):
            continue
        try:
            data = (Path(directory) / f"{stem}{SUFFIX}").read_bytes()
        except OSError:  # removed since the listing
            continue
        headers = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        summaries.append(_summary(stem, headers))
    return summaries


def read_message(directory: Path | str, message_id) -> MailMessage | None:
    """The kept message `message_id`, or None when there is none (or the id is not one)."""
    if not is_message_id(message_id):
        return None
    try:
        data = (Path(directory) / f"{message_id}{SUFFIX}").read_bytes()
    except OSError:
        return None
    message = BytesParser(policy=policy.default).parsebytes(data)
    summary = _summary(message_id, message)
    plain = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    html = _content(html_part) if html_part is not None else None
    if plain is not None:
        text = _content(plain)
    elif html is not None:
        text = html_to_text(html)
    else:
        text = ""
    return MailMessage(
        id=summary.id,
        received_at=summary.received_at,
        sender=summary.sender,
        recipients=summary.recipients,
        subject=summary.subject,
        text=text,
        html=html,
        links=links_in(text),
    )


def links_in(text: str) -> tuple[str, ...]:
    """The http(s) URLs in `text`, in order, each once (without the sentence's final
    punctuation)."""
    found: dict[str, None] = {}
    for match in LINK.finditer(text):
        url = match.group(0).rstrip(LINK_TRAILING)
        if len(url) > len("https://"):
            found.setdefault(url, None)
    return tuple(found)


def html_to_text(html: str) -> str:
    """Readable text of an html part: blocks on their own lines, a link's address after
    its words, scripts and styles left out."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class _TextExtractor(HTMLParser):
    BLOCKS = {
        "address", "article", "blockquote", "br", "div", "footer", "h1", "h2", "h3", "h4",
        "h5", "h6", "header", "hr", "li", "ol", "p", "section", "table", "tr", "ul",
    }  # fmt: skip
    HIDDEN = {"head", "script", "style", "template", "title"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[tuple[str | None, int]] = []  # href, where its words start

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a":
            self.links.append((dict(attrs).get("href"), len(self.parts)))

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            words = "".join(self.parts[start:]).strip()
            if href and LINK.fullmatch(href.strip()) and href.strip() != words:
                self.parts.append(f" ({href.strip()})")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def _summary(message_id: str, message: EmailMessage) -> MailSummary:
    received_at = datetime.strptime(message_id.split("-", 1)[0], TIME_FORMAT).replace(tzinfo=UTC)
    sender = _header(message, "From") or _address(message, "Return-Path")
    recipients = [address for _, address in getaddresses(_headers(message, "Delivered-To"))]
    if not recipients:
        recipients = [
            address
            for _, address in getaddresses(_headers(message, "To") + _headers(message, "Cc"))
        ]
    return MailSummary(
        id=message_id,
        received_at=received_at,
        sender=sender,
        recipients=tuple(address for address in recipients if address),
        subject=_header(message, "Subject"),
    )


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _headers(message: EmailMessage, name: str) -> list[str]:
    try:
        return [str(value) for value in message.get_all(name, [])]
    except (ValueError, IndexError):
        return []


def _address(message: EmailMessage, name: str) -> str:
    addresses = getaddresses(_headers(message, name))
    return addresses[0][1] if addresses else ""


def _content(part: EmailMessage) -> str:
    """A text part decoded, with Python's line ends (SMTP carries CRLF)."""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read it as UTF-8
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    return content.replace("\r\n", "\n")


# --- keeping --------------------------------------------------------------------------


def new_message_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment.strftime(TIME_FORMAT)}-{uuid.uuid4().hex}"


def keep(
    directory: Path | str,
    content: bytes,
    mail_from: str | None = None,
    rcpt_tos: list[str] | tuple[str, ...] = (),
) -> str:
    """Write one message to `directory` (whole, or not at all); its id."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    message_id = new_message_id()
    trace = b""
    if mail_from is not None and _fit_for_header(mail_from):
        trace += f"Return-Path: <{mail_from}>\r\n".encode()
    for recipient in rcpt_tos:
        if _fit_for_header(recipient):
            trace += f"Delivered-To: {recipient}\r\n".encode()
    temporary = directory / f".{message_id}.tmp"
    try:
        with open(temporary, "wb") as stream:
            stream.write(trace + content)
        temporary.replace(directory / f"{message_id}{SUFFIX}")
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return message_id


def _fit_for_header(address: str) -> bool:
    return all(ord(character) >= 0x20 and character != "\x7f" for character in address)


# --- serving --------------------------------------------------------------------------


class CatchingHandler:
    """aiosmtpd handler: every message is kept; nothing is relayed."""

    def __init__(self, directory: Path):
        self.directory = directory

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        try:
            message_id = keep(self.directory, content, envelope.mail_from, envelope.rcpt_tos)
        except OSError as exc:  # a full disk, say: the sender keeps it and tries again
            print(f"cannot keep a message: {exc.strerror or exc}", flush=True)
            return "451 4.3.0 Cannot keep the message now, try again later"
        # The id and size only: addresses and subjects are personal data.
        print(f"kept {message_id} ({len(content)} bytes)", flush=True)
        return f"250 2.0.0 Kept as {message_id}"


async def serve(host: str, port: int, directory: Path) -> None:
    """Listen until SIGTERM or SIGINT; OSError when the address cannot be listened on."""
    import asyncio
    import signal

    from aiosmtpd.smtp import SMTP

    loop = asyncio.get_running_loop()
    handler = CatchingHandler(directory)
    server = await loop.create_server(
        lambda: SMTP(
            handler,
            hostname="localhost",  # not the machine's name: no DNS look-up at start
            ident=IDENT,
            enable_SMTPUTF8=True,
            decode_data=False,
        ),
        host=host,
        port=port,
    )
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    print(f"{IDENT} listening on {host}:{port}, keeping mail in {directory}", flush=True)
    try:
        await stopping.wait()
    finally:
        server.close()
        await server.wait_closed()
    print(f"{IDENT} stopped", flush=True)


def _host(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if HOSTNAME.fullmatch(value):
        return value
    raise argparse.ArgumentTypeError(f"not an IP address or a host name: {value!r}")


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 1 to 65535: {value!r}")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m civic.mailcatcher",
        description="Accept every email over SMTP and keep each as one .eml file.",
    )
    parser.add_argument("--host", type=_host, default="127.0.0.1", help="default 127.0.0.1")
    parser.add_argument("--port", type=_port, required=True, help="1 to 65535")
    parser.add_argument("--dir", type=Path, required=True, help="where to keep the mail")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    directory = args.dir.resolve()
    if directory.exists() and not directory.is_dir():
        print(f"{parser.prog}: error: --dir {args.dir}: not a directory", file=sys.stderr)
        return EXIT_USAGE
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"{parser.prog}: error: --dir {args.dir}: cannot make a directory there "
            f"({exc.strerror or exc})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not os.access(directory, os.W_OK | os.X_OK):
        print(f"{parser.prog}: error: --dir {args.dir}: not writable", file=sys.stderr)
        return EXIT_USAGE
    import asyncio
    import errno

    try:
        asyncio.run(serve(args.host, args.port, directory))
    except OSError as exc:
        reason = (
            "the port is taken by another program"
            if exc.errno == errno.EADDRINUSE
            else (exc.strerror or str(exc))
        )
        print(
            f"{parser.prog}: error: cannot listen on {args.host}:{args.port}: {reason}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_FAILED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
