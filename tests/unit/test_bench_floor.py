"""What bench.floor says of goal 1 above a floor: pure arithmetic, no broker."""

from __future__ import annotations

from bench.floor import room_verdict


def test_a_latency_floor_under_the_limit_says_how_much_of_it_it_takes():
    assert room_verdict(2.8, "read_p50") == "takes 80% of the 3.5x limit"
    assert room_verdict(3.5, "read_p50") == "takes 100% of the 3.5x limit"


def test_a_latency_floor_past_the_limit_leaves_no_room():
    assert room_verdict(4.2, "read_p50") == "past the 3.5x limit on its own (120% of it)"
    assert room_verdict(4.5, "write_p50") == "takes 90% of the 5x limit"


def test_a_throughput_floor_is_compared_with_the_least_the_goal_accepts():
    assert room_verdict(0.45, "read_rps") == "1.50x the 0.3x the goal asks"
    assert room_verdict(0.27, "read_rps") == "under the 0.3x the goal asks, on its own"
    assert room_verdict(None, "read_rps") == "no baseline"
