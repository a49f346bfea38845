"""Publishing after commit: a broker that refuses pauses publishing instead of slowing requests."""

from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from agenwork import broker


class Task:
    """A stand-in for a Celery task: records what it is given, or refuses like a dead broker."""

    name = "tests.task"

    def __init__(self) -> None:
        self.published: list[int] = []
        self.refuse = False

    def delay(self, argument: int) -> None:
        if self.refuse:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.append(argument)


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    now = [1000.0]
    monkeypatch.setattr(broker.time, "monotonic", lambda: now[0])
    return now


def test_a_published_task_reports_true():
    task = Task()
    assert broker.publish_after_commit(task, 1) is True
    assert task.published == [1]


def test_after_a_refusal_nothing_is_tried_until_the_pause_is_over(clock, caplog):
    task = Task()
    task.refuse = True
    assert broker.publish_after_commit(task, 1) is False
    assert "publishing paused" in caplog.text

    task.refuse = False
    clock[0] += broker.PAUSE_SECONDS - 0.1
    assert broker.publish_after_commit(task, 2) is False
    assert task.published == []

    clock[0] += 0.2
    assert broker.publish_after_commit(task, 3) is True
    assert task.published == [3]


def test_a_refusal_during_a_retry_pauses_again(clock):
    task = Task()
    task.refuse = True
    broker.publish_after_commit(task, 1)
    clock[0] += broker.PAUSE_SECONDS + 0.1
    assert broker.publish_after_commit(task, 2) is False
    clock[0] += 1
    task.refuse = False
    assert broker.publish_after_commit(task, 3) is False
    assert task.published == []
