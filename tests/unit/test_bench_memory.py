"""The memory benchmark's pure parts (bench/memory.py): no broker, no timing."""

import pytest

from bench.memory import (
    GOAL_MB,
    MEMORY_COLUMNS,
    ProcessMemory,
    format_rows,
    kib_to_mb,
    memory_from_status,
    memory_rows,
    parse_args,
    proc_status_kib,
    summary_line,
    verdict,
)

STATUS = """Name:\tpython
Umask:\t0022
State:\tS (sleeping)
Pid:\t4242
VmPeak:\t  912344 kB
VmSize:\t  845120 kB
VmHWM:\t  130457 kB
VmRSS:\t   92160 kB
RssAnon:\t   60000 kB
Threads:\t22
"""


class TestProcStatus:
    def test_reads_a_field_in_kib(self):
        assert proc_status_kib(STATUS, "VmRSS") == 92160
        assert proc_status_kib(STATUS, "VmHWM") == 130457

    def test_a_field_is_matched_whole_not_by_prefix(self):
        assert proc_status_kib(STATUS, "RssAnon") == 60000
        with pytest.raises(ValueError, match="no Rss line"):
            proc_status_kib(STATUS, "Rss")

    def test_a_missing_field_says_so(self):
        with pytest.raises(ValueError, match="no VmRSS line"):
            proc_status_kib("Name:\tpython\nState:\tZ (zombie)\n", "VmRSS")

    @pytest.mark.parametrize("line", ["VmRSS:\t92160", "VmRSS:\t92160 MB", "VmRSS:\tlots kB"])
    def test_an_unexpected_line_is_refused(self, line):
        with pytest.raises(ValueError, match="unexpected VmRSS line"):
            proc_status_kib(line + "\n", "VmRSS")

    def test_kib_to_mb(self):
        assert kib_to_mb(102400) == 100.0
        assert kib_to_mb(512) == 0.5

    def test_memory_from_status(self):
        measured = memory_from_status("groups", 4242, STATUS)
        assert measured == ProcessMemory("groups", 4242, 90.0, pytest.approx(127.4, abs=0.01))


class TestVerdict:
    def test_at_or_under_the_goal_is_ok(self):
        assert verdict(99.9) == "ok"
        assert verdict(GOAL_MB) == "ok"

    def test_above_the_goal_is_over(self):
        assert verdict(100.1) == "over"
        assert verdict(391.4) == "over"

    def test_another_goal(self):
        assert verdict(150.0, goal_mb=200.0) == "ok"

    def test_a_goal_must_be_positive(self):
        with pytest.raises(ValueError):
            verdict(1.0, goal_mb=0)


PROCESSES = [
    ProcessMemory("groups", 11, 88.64, 106.2),
    ProcessMemory("gateway", 12, 104.24, 104.3),
]


class TestTable:
    def test_rows_show_rss_peak_goal_ratio_and_verdict(self):
        assert memory_rows(PROCESSES) == [
            ("groups", "11", "88.6", "106.2", "100", "0.89x", "ok"),
            ("gateway", "12", "104.2", "104.3", "100", "1.04x", "over"),
        ]

    def test_table_aligns_the_name_left_and_numbers_right(self):
        table = format_rows(memory_rows(PROCESSES)).splitlines()
        assert table[0].split() == list(MEMORY_COLUMNS[:2]) + [
            "RSS",
            "MB",
            "peak",
            "MB",
            "goal",
            "MB",
            "RSS/goal",
            "verdict",
        ]
        assert set(table[1]) == {"-", " "}
        assert table[2].startswith("groups ")
        assert table[2].endswith("   ok")
        assert table[3].startswith("gateway")
        assert table[3].endswith(" over")
        assert len({len(line) for line in table[:2]}) == 1

    def test_a_row_of_the_wrong_width_is_refused(self):
        with pytest.raises(ValueError, match="cells"):
            format_rows([("groups", "1")])

    def test_summary_names_the_processes_over_the_goal(self):
        line = summary_line(PROCESSES)
        assert "NOT MET (gateway over)" in line
        assert "largest gateway 104.2 MB (1.04x the goal)" in line

    def test_summary_when_every_process_is_within_the_goal(self):
        line = summary_line([ProcessMemory("groups", 1, 90.0, 127.0)])
        assert line == (
            "goal 6, every service process <= 100 MB RSS: met; "
            "largest groups 90.0 MB (0.90x the goal)"
        )

    def test_summary_of_nothing_is_an_error(self):
        with pytest.raises(ValueError):
            summary_line([])


class TestArguments:
    def test_defaults(self):
        args = parse_args([])
        assert args.sign_ins == 200
        assert args.reads == 1000
        assert args.database_url is None

    def test_a_smoke_run_can_use_tiny_counts(self):
        args = parse_args(["--sign-ins", "2", "--reads", "3"])
        assert (args.sign_ins, args.reads) == (2, 3)

    @pytest.mark.parametrize(
        "argv",
        [
            ["--sign-ins", "0"],
            ["--sign-ins", "-5"],
            ["--sign-ins", "many"],
            ["--reads", "0"],
            ["--timeout", "0"],
            ["--database-url", "sqlite:///x.db"],
        ],
    )
    def test_bad_values_are_refused(self, argv, capsys):
        with pytest.raises(SystemExit) as exited:
            parse_args(argv)
        assert exited.value.code == 2
        assert "error" in capsys.readouterr().err

    def test_a_postgresql_url_is_taken(self):
        url = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
        assert parse_args(["--database-url", url]).database_url == url
