"""Log lines never carry a secret, whatever the format."""

import io
import logging

import pytest

from civic import log


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
