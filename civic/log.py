"""structlog set-up and the per-worker log context.

One line per log call, JSON in production (`CIVIC_LOG_FORMAT=json`, the default) and a
readable console in development. Every line carries `ts`, `level`, `service`, `event`
and, inside a worker, `correlation_id`, `entrypoint` and `actor_id`; the `Tracing`
dependency adds `duration_ms` when a worker ends. nameko's and kombu's own stdlib log
records go through the same formatter, so one file holds everything a process said.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import structlog
from nameko.extensions import DependencyProvider

SECRET_KEYS = frozenset(
    {"password", "token", "authorization", "secret", "password_hash", "token_hash", "cookie"}
)
_process_service = "civic"
# The ids of an event's data that an event handler's log lines carry (see Tracing).
SUBJECT_KEYS = frozenset(
    {"proposal_id", "group_id", "event_id", "opening_id", "project_id", "network_id"}
)


def _add_service(_, __, event_dict):
    event_dict.setdefault("service", _process_service)
    # Which process wrote the line: instances of a service on one machine share its file.
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def _redact_secrets(_, __, event_dict):
    for key in event_dict.keys() & SECRET_KEYS:
        event_dict[key] = "[redacted]"
    return event_dict


def _shared_processors():
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_service,
        _redact_secrets,
    ]


class RenderOnce(structlog.stdlib.ProcessorFormatter):
    """A formatter that renders a record once for all the handlers that share it (the
    console and the log file): rendering a line is most of what a log call costs."""

    def format(self, record):
        rendered = record.__dict__.get("_civic_rendered")
        if rendered is not None and rendered[0] is self:
            return rendered[1]
        line = super().format(record)
        record._civic_rendered = (self, line)
        return line


# How a handler renders a line: JSON (the files, and the console in production) or the
# readable console of development.
_JSON = "json"
_CONSOLE = "console"
_to_json = structlog.processors.JSONRenderer(default=str)
_exc_info = structlog.processors.format_exc_info
# A plain traceback: the "rich" one shows each frame's local variables, and a password
# or a token may be one of them.
_to_console = structlog.dev.ConsoleRenderer(
    colors=False, exception_formatter=structlog.dev.plain_traceback
)
_LEVEL_NUMBERS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


def _hand_over(_, method_name, event_dict):
    """The last processor: the event dict goes to `Lines` as it is, rendered there once
    per format its handlers need."""
    return {"level": _LEVEL_NUMBERS.get(method_name, logging.INFO), "event_dict": event_dict}


class Lines:
    """structlog's logger for Civic's own lines: writes each one straight to the root
    logger's handlers (the console and the log file), the streams and locks the stdlib
    records of nameko and kombu use too, so lines never interleave.

    Why not through the stdlib: a line that went structlog → `logging.Logger` → record →
    `ProcessorFormatter` (which copies the record) cost about 100 µs, a third of it
    building records nobody reads; written here it costs a fraction of that, and a
    request writes two or three (issue 14)."""

    def __init__(self, *_args):
        pass

    def _write(self, level: int, event_dict: dict) -> None:
        rendered = {}
        for handler in logging.getLogger().handlers:
            if level < handler.level:
                continue
            form = getattr(handler, "civic_format", None)
            if form is None:  # a handler someone else added: give it a record
                handler.handle(_record_of(level, event_dict))
                continue
            line = rendered.get(form)
            if line is None:
                line = rendered[form] = _render(form, event_dict)
            handler.acquire()
            try:
                handler.stream.write(line + handler.terminator)
                handler.flush()
            except Exception:  # as logging does: a log line never breaks the caller
                pass
            finally:
                handler.release()

    def debug(self, **kw):
        self._write(**kw)

    info = warning = error = critical = exception = msg = debug


def _render(form: str, event_dict: dict) -> str:
    if form == _JSON:
        return _to_json(None, None, _exc_info(None, None, dict(event_dict)))
    return _to_console(None, None, dict(event_dict))


def _record_of(level: int, event_dict: dict) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "levelno": level,
            "levelname": logging.getLevelName(level),
            "msg": _render(_JSON, event_dict),
        }
    )


def configure(
    service: str, *, log_dir: str | None = None, fmt: str = "json", level: str = "INFO", stream=None
) -> None:
    """Set up logging for this process: `service` names lines that no worker claims."""
    global _process_service
    _process_service = service
    shared = _shared_processors()
    structlog.configure(
        processors=shared + [_hand_over],
        logger_factory=Lines,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    json_formatter = RenderOnce(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _exc_info,
            _to_json,
        ],
    )
    console_formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _to_console],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(stream or sys.stderr)
    console.setFormatter(json_formatter if fmt == "json" else console_formatter)
    console.civic_format = _JSON if fmt == "json" else _CONSOLE
    root.addHandler(console)
    if log_dir:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        # `civic logs` reads these files; they are always JSON whatever the console shows.
        to_file = logging.FileHandler(Path(log_dir) / f"{service}.log", encoding="utf-8")
        to_file.setFormatter(json_formatter)
        to_file.civic_format = _JSON
        root.addHandler(to_file)
    root.setLevel(level)
    # Nothing of a line says where in the source it was logged, or from which thread
    # or process (`pid` is ours): skip looking for them, as the logging HOWTO's
    # "Optimization" advises — walking the stack for the caller was a tenth of a log
    # call's cost (issue 14).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    for noisy in ("kombu", "amqp", "nameko", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


class QuietExpectedErrors(logging.Filter):
    """Drop nameko's traceback-laden warning for an *expected* error (a CivicError: a
    404 or 409 is an answer, not a fault); `Tracing` already logs the outcome's code."""

    def filter(self, record):
        return not str(record.msg).startswith("(expected) error handling worker")


_quiet = QuietExpectedErrors()
if _quiet not in logging.getLogger("nameko.containers").filters:
    logging.getLogger("nameko.containers").addFilter(_quiet)


def get_logger(name: str | None = None):
    return structlog.get_logger(name)


# Built once: a logger made per call is bound again on its first use every time.
_worker_log = structlog.get_logger("civic.worker")
_service_log = structlog.get_logger()


def new_correlation_id() -> str:
    return str(uuid.uuid4())


class Tracing(DependencyProvider):
    """Binds the log context of every worker and logs how each one ended.

    The correlation id comes from the caller (nameko carries `context_data` through
    RPC headers; event handlers take it from the envelope); a worker started without one
    gets a new one, stored back in `context_data` so every call it makes carries it.
    """

    def get_dependency(self, worker_ctx):
        return _service_log

    def worker_setup(self, worker_ctx):
        context = worker_ctx.context_data
        context.setdefault("correlation_id", new_correlation_id())
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            service=self.container.service_name,
            entrypoint=f"{self.container.service_name}.{worker_ctx.entrypoint.method_name}",
            correlation_id=context["correlation_id"],
            actor_id=context.get("actor_id"),
        )
        # An event handler's lines say which event it consumed (a trace shows the story).
        envelope = worker_ctx.args[0] if worker_ctx.args else None
        if envelope is not None and all(
            isinstance(getattr(envelope, key, None), str) for key in ("type", "id", "producer")
        ):
            structlog.contextvars.bind_contextvars(
                event_type=envelope.type, message_id=envelope.id, event_source=envelope.producer
            )
            # What it is about (never a person): a trace is found by the proposal's id.
            data = getattr(envelope, "data", None)
            if isinstance(data, dict):
                subjects = {
                    key: value
                    for key, value in data.items()
                    if key in SUBJECT_KEYS and isinstance(value, str) and len(value) <= 100
                }
                if subjects:
                    structlog.contextvars.bind_contextvars(subject=subjects)
        worker_ctx.data["civic.started"] = time.perf_counter()
        # The wall-clock start, in the line too: a trace orders a worker by when it began,
        # and `ts` − `duration_ms` (the end, written after the reply was sent) can land
        # a fraction of a millisecond after the worker's own first lines.
        worker_ctx.data["civic.started_at"] = datetime.now(UTC)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = worker_ctx.data.get("civic.started", time.perf_counter())
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        began = worker_ctx.data.get("civic.started_at")
        timing = {"duration_ms": duration_ms}
        if began is not None:
            timing["started_at"] = began.isoformat()
        log = _worker_log
        if exc_info is None:
            log.info("worker_done", outcome="ok", **timing)
        else:
            from civic.errors import CivicError

            exc = exc_info[1]
            if isinstance(exc, CivicError):
                log.info("worker_done", outcome=exc.code, **timing)
            else:
                log.error(
                    "worker_failed",
                    outcome="error",
                    error=f"{type(exc).__name__}: {exc}",
                    **timing,
                )

    def worker_teardown(self, worker_ctx):
        structlog.contextvars.clear_contextvars()
