"""Publishing after commit: a broker that refuses pauses publishing instead of slowing requests."""

from __future__ import annotations

import pytest
from celery import shared_task
from celery.exceptions import NotRegistered
from kombu.exceptions import OperationalError

from agenwork import broker


@shared_task(name="tests.test_broker.probe")
def probe(argument: int) -> None:
    """A registered task that only these tests publish (by name, as the services do)."""


class Broker:
    """A stand-in for the broker behind `probe.delay`: records, or refuses like a dead one."""

    def __init__(self) -> None:
        self.published: list[int] = []
        self.refuse = False

    def delay(self, argument: int) -> None:
        if self.refuse:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.append(argument)


@pytest.fixture
def task(monkeypatch) -> Broker:
    stand_in = Broker()
    monkeypatch.setattr(probe, "delay", stand_in.delay)
    return stand_in


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(broker.time, "monotonic", lambda: now[0])
    return now


def test_a_published_task_reports_true(task):
    assert broker.publish_after_commit(probe.name, 1) is True
    assert task.published == [1]


def test_after_a_refusal_nothing_is_tried_until_the_pause_is_over(task, clock, caplog):
    task.refuse = True
    assert broker.publish_after_commit(probe.name, 1) is False
    assert "publishing paused" in caplog.text

    task.refuse = False
    clock[0] += broker.PAUSE_SECONDS - 0.1
    assert broker.publish_after_commit(probe.name, 2) is False
    assert task.published == []

    clock[0] += 0.2
    assert broker.publish_after_commit(probe.name, 3) is True
    assert task.published == [3]


def test_a_refusal_during_a_retry_pauses_again(task, clock):
    task.refuse = True
    broker.publish_after_commit(probe.name, 1)
    clock[0] += broker.PAUSE_SECONDS + 0.1
    assert broker.publish_after_commit(probe.name, 2) is False
    clock[0] += 1
    task.refuse = False
    assert broker.publish_after_commit(probe.name, 3) is False
    assert task.published == []


def test_an_unknown_task_name_is_a_bug_not_a_refusal(task, clock):
    with pytest.raises(NotRegistered):
        broker.publish_after_commit("tests.test_broker.no_such_task", 1)

    assert broker.publish_after_commit(probe.name, 2) is True
    assert task.published == [2]
