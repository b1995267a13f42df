"""What a service process loads (issue 14, memory): drivers and libraries it may never
use stay out until they are needed — psycopg2 until a PostgreSQL engine is made (then
made cooperative), pygal until a chart is drawn, icalendar until an event is exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAZY = ("psycopg2", "pygal", "icalendar")


def loaded_after(code: str) -> dict:
    script = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "from civic import green\n"
        "green.patch()\n"
        f"{code}\n"
        f"print(json.dumps({{name: name in sys.modules for name in {LAZY!r}}}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_gateway_and_a_sqlite_service_load_none_of_the_lazy_libraries():
    loaded = loaded_after(
        "import services.gateway.service, services.groups.service\n"
        "from civic.db import make_engine\n"
        "make_engine('sqlite://')"
    )
    assert loaded == {name: False for name in LAZY}


def test_a_postgresql_engine_loads_the_driver_cooperatively():
    loaded = loaded_after(
        "from civic.db import make_engine\n"
        "make_engine('postgresql://nobody@127.0.0.1:1/none')\n"
        "import psycopg2.extensions\n"
        "assert psycopg2.extensions.get_wait_callback() is not None, 'not cooperative'"
    )
    assert loaded["psycopg2"] is True


def test_drawing_a_chart_loads_pygal():
    loaded = loaded_after(
        "from services.gateway.web.staff_report_pages import chart_style\nchart_style()"
    )
    assert loaded["pygal"] is True and loaded["psycopg2"] is False
