"""What ``ServiceLog`` decides to journal, on instants given by hand (the runtime journals it)."""

from __future__ import annotations

from aiguillage.adapters.daemon.availability import ServiceLog
from aiguillage.engine.events import (
    ChannelDown,
    ChannelUp,
    JournalRegained,
    ServiceAlive,
    ServiceStarted,
    ServiceStopped,
)
from aiguillage.engine.instants import SECOND

T0 = 1_800_000_000 * SECOND


def _started(log: ServiceLog) -> None:
    log.recovered(T0, T0, None, 0, ())
    log.written(T0, 1)


def test_the_first_start_of_an_empty_journal_has_no_gap() -> None:
    log = ServiceLog(60, 60)
    assert log.recovered(T0, 0, None, 0, ("mail",)) == ServiceStarted(
        at=T0, previous="first", channels=("mail",)
    )


def test_a_start_after_a_clean_stop_or_a_crash_names_it_with_the_last_instant_known() -> None:
    stopped = ServiceStopped(at=T0 - 50 * SECOND, reason="signal")
    assert ServiceLog(60, 60).recovered(T0, T0 - 50 * SECOND, stopped, 9, ()) == ServiceStarted(
        at=T0, previous="stopped", last_alive=T0 - 50 * SECOND
    )
    alive = ServiceAlive(at=T0 - 70 * SECOND)
    assert ServiceLog(60, 60).recovered(T0, T0 - 60 * SECOND, alive, 9, ()) == ServiceStarted(
        at=T0, previous="crashed", last_alive=T0 - 60 * SECOND
    )


def test_a_journal_lost_then_regained_is_one_record_from_the_first_loss() -> None:
    log = ServiceLog(60, 60)
    _started(log)
    log.lost(T0 + 5 * SECOND, "disk I/O error")
    log.lost(T0 + 6 * SECOND, "disk I/O error, again")  # the same outage, retried
    assert log.recovered(T0 + 9 * SECOND, T0, None, 1, ()) == JournalRegained(
        at=T0 + 9 * SECOND, lost_at=T0 + 5 * SECOND, reason="disk I/O error"
    )
    assert log.recovered(T0 + 10 * SECOND, T0, None, 1, ()) is None  # nothing lost since


def test_a_journal_another_daemon_wrote_to_meanwhile_is_a_new_start() -> None:
    log = ServiceLog(60, 60)
    _started(log)
    log.lost(T0 + 5 * SECOND, "stepped down")
    other = ServiceAlive(at=T0 + 7 * SECOND)
    assert log.recovered(T0 + 9 * SECOND, T0 + 7 * SECOND, other, 4, ()) == ServiceStarted(
        at=T0 + 9 * SECOND, previous="crashed", last_alive=T0 + 7 * SECOND
    )


def test_a_liveness_mark_comes_only_after_a_quiet_spell_and_only_in_a_quiet_batch() -> None:
    log = ServiceLog(60, 60)
    _started(log)
    assert log.due_in(T0 + 10 * SECOND) == 50.0
    assert log.take(T0 + 59 * SECOND, quiet=True) == []
    assert log.take(T0 + 60 * SECOND, quiet=False) == []
    assert log.take(T0 + 60 * SECOND, quiet=True) == [ServiceAlive(at=T0 + 60 * SECOND)]


def test_a_flapping_channel_is_journaled_down_once_and_up_once_it_held() -> None:
    log = ServiceLog(60, 30)
    _started(log)
    second = SECOND
    assert log.channel("mail", False, "degraded: IMAP: timeout", T0 + 1 * second)
    for flap in range(2, 20, 2):  # ok, then failing again, every second
        assert not log.channel("mail", True, "ok", T0 + flap * second)
        assert not log.channel("mail", False, "degraded: IMAP: timeout", T0 + (flap + 1) * second)
    assert log.take(T0 + 20 * second, quiet=False) == [
        ChannelDown(
            at=T0 + 20 * second,
            channel="mail",
            since=T0 + 1 * second,
            reason="degraded: IMAP: timeout",
        )
    ]
    log.channel("mail", True, "ok", T0 + 21 * second)
    assert log.due_in(T0 + 30 * second) == 21.0
    assert log.take(T0 + 50 * second, quiet=False) == []
    up = ChannelUp(at=T0 + 51 * second, channel="mail", since=T0 + 21 * second)
    assert log.take(T0 + 51 * second, quiet=False) == [up]
    assert log.take(T0 + 80 * second, quiet=False) == []


def test_transitions_of_a_batch_that_failed_wait_for_the_next() -> None:
    log = ServiceLog(60, 0)
    _started(log)
    log.channel("x", False, "needs_reauthorisation: token revoked", T0 + SECOND)
    taken = log.take(T0 + 2 * SECOND, quiet=False)
    log.put_back(taken)
    log.channel("x", True, "ok", T0 + 3 * SECOND)
    assert log.take(T0 + 4 * SECOND, quiet=False) == [
        ChannelDown(
            at=T0 + 4 * SECOND,
            channel="x",
            since=T0 + SECOND,
            reason="needs_reauthorisation: token revoked",
        ),
        ChannelUp(at=T0 + 4 * SECOND, channel="x", since=T0 + 3 * SECOND),
    ]


def test_a_channel_still_down_when_this_daemon_leads_anew_is_journaled_down_again() -> None:
    log = ServiceLog(60, 60)
    _started(log)
    assert log.channel("mail", False, "imap refused", T0 + SECOND)
    assert log.take(T0 + SECOND, quiet=False) == [
        ChannelDown(at=T0 + SECOND, channel="mail", since=T0 + SECOND, reason="imap refused")
    ]
    log.lost(T0 + 2 * SECOND, "stepped down")
    other = ServiceAlive(at=T0 + 7 * SECOND)  # another daemon led meanwhile
    assert isinstance(log.recovered(T0 + 9 * SECOND, T0 + 7 * SECOND, other, 4, ()), ServiceStarted)
    # The reports close every outage at a start: the channel still down is down again from now.
    assert log.take(T0 + 9 * SECOND, quiet=False) == [
        ChannelDown(
            at=T0 + 9 * SECOND, channel="mail", since=T0 + 9 * SECOND, reason="imap refused"
        )
    ]
