"""The service process (`civic.runner`) ends when its container dies by itself, so its
supervisor restarts it. The chaos suite found a groups process alive for minutes with a
dead container (nameko killed it when an RPC answer could not be sent during a broker
restart): it consumed nothing and relayed nothing, and nothing noticed."""

import os
import signal

import eventlet
import pytest
from nameko.extensions import DependencyProvider
from nameko.rpc import rpc

from civic import log
from civic.runner import CRASH_EXIT_CODE, serve
from tests.conftest import wait_for


class CrashingThread(DependencyProvider):
    """A managed thread that raises when told to: nameko kills the container, as it does
    when a worker's answer cannot be published."""

    crash = None

    def start(self):
        CrashingThread.crash = eventlet.event.Event()
        self.container.spawn_managed_thread(self._wait_then_raise, identifier="crashing")

    def _wait_then_raise(self):
        CrashingThread.crash.wait()
        raise ConnectionError("the broker closed the connection mid-reply")


class CrashingService:
    name = "crashingtoy"
    thread = CrashingThread()

    @rpc
    def ping(self):
        return "pong"


@pytest.fixture
def service_log(civic_settings):
    return log.get_logger("civic.runner")


def test_the_process_ends_when_its_container_dies(civic_settings, service_log):
    CrashingThread.crash = None
    serving = eventlet.spawn(serve, CrashingService, service_log, stop_signals=())
    wait_for(lambda: CrashingThread.crash is not None, message="the service to start")
    assert not serving.dead  # running, waiting for a signal

    CrashingThread.crash.send(True)

    with eventlet.Timeout(15):
        exit_code = serving.wait()
    assert exit_code == CRASH_EXIT_CODE


def test_a_stop_signal_still_stops_it_gracefully(civic_settings, service_log):
    CrashingThread.crash = None
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        serving = eventlet.spawn(
            serve, CrashingService, service_log, stop_signals=(signal.SIGUSR1,)
        )
        wait_for(lambda: CrashingThread.crash is not None, message="the service to start")
        os.kill(os.getpid(), signal.SIGUSR1)
        with eventlet.Timeout(20):
            exit_code = serving.wait()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert exit_code == 0
