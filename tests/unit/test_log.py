"""Log lines never carry a secret, whatever the format."""

import io
import json
import logging

import pytest
import structlog

from civic import log


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """Each test configures the process's logging: put back what the others use."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_traceback_does_not_show_local_variables(fmt):
    stream = io.StringIO()
    log.configure("groups", fmt=fmt, stream=stream)
    try:
        password = "hunter2-secret-pw"  # noqa: F841 - a local the traceback could show
        raise RuntimeError("unexpected")
    except RuntimeError:
        logging.getLogger("civic.test").exception("worker_failed")
    finally:
        for handler in list(logging.getLogger().handlers):
            handler.flush()
    written = stream.getvalue()
    assert "worker_failed" in written and "RuntimeError" in written
    assert "hunter2-secret-pw" not in written


def _configured(tmp_path, **options):
    stream = io.StringIO()
    log.configure("groups", log_dir=str(tmp_path), stream=stream, **options)
    return stream, tmp_path / "groups.log"


def test_a_line_goes_to_the_console_and_the_file_once_each_as_json(tmp_path):
    stream, path = _configured(tmp_path)
    log.get_logger("civic.test").info("proposal_filed", proposal_id="p-1", token="abc")
    logging.getLogger("nameko.test").warning("a foreign record")
    for line in (stream.getvalue(), path.read_text(encoding="utf-8")):
        ours, foreign = (json.loads(text) for text in line.splitlines())
        assert ours["event"] == "proposal_filed" and ours["proposal_id"] == "p-1"
        assert (ours["level"], ours["service"], ours["token"]) == ("info", "groups", "[redacted]")
        assert "ts" in ours and "pid" in ours
        assert (foreign["event"], foreign["level"]) == ("a foreign record", "warning")


def test_a_handler_s_own_level_holds(tmp_path):
    stream, path = _configured(tmp_path, fmt="console")
    logging.getLogger().handlers[0].setLevel(logging.WARNING)  # as the CLI's console
    log.get_logger("civic.test").info("quiet_here")
    log.get_logger("civic.test").warning("loud_here")
    assert "quiet_here" not in stream.getvalue() and "loud_here" in stream.getvalue()
    assert [json.loads(text)["event"] for text in path.read_text().splitlines()] == [
        "quiet_here",
        "loud_here",
    ]


def test_below_the_process_level_nothing_is_written(tmp_path):
    stream, path = _configured(tmp_path, level="WARNING")
    log.get_logger("civic.test").info("not_written")
    assert stream.getvalue() == "" and path.read_text() == ""


def test_an_exception_line_carries_its_traceback(tmp_path):
    stream, _ = _configured(tmp_path)
    try:
        raise ValueError("broken")
    except ValueError:
        log.get_logger("civic.test").exception("worker_failed")
    line = json.loads(stream.getvalue())
    assert line["level"] == "error" and "ValueError: broken" in line["exception"]


def test_a_handler_added_by_someone_else_gets_a_record(tmp_path):
    _configured(tmp_path)
    caught = []

    class Catch(logging.Handler):
        def emit(self, record):
            caught.append(record)

    logging.getLogger().addHandler(Catch())
    log.get_logger("civic.test").warning("seen_elsewhere")
    assert [record.levelno for record in caught] == [logging.WARNING]
    assert json.loads(caught[0].getMessage())["event"] == "seen_elsewhere"
