"""The Celery application: tasks are found in each app's tasks.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from agenwork.logs import forget_request_id, put_request_id_in_headers, restore_request_id

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agenwork.settings")

app = Celery("agenwork")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The request id of the web request (or task) that publishes a task follows it to the worker.
before_task_publish.connect(put_request_id_in_headers, weak=False)
task_prerun.connect(restore_request_id, weak=False)
task_postrun.connect(forget_request_id, weak=False)


@contextmanager
def celery_settings(**values: Any) -> Iterator[None]:
    """Change Celery settings for a block (tests, benchmarks), then restore them.

    - The app reads Django's settings under the CELERY_ namespace, and a prefixed key found in
      any layer wins over a plain one (Celery 5.6), so `app.conf.broker_url = …` is silently
      ignored: a change must be written under the prefixed key, as here.
    - Pooled broker connections are dropped on the way in and out, so a new broker URL is used.
    """
    keys = {f"CELERY_{name.upper()}": value for name, value in values.items()}
    old = {key: app.conf.get(key) for key in keys}
    app.conf.update(keys)
    app._after_fork()
    try:
        yield
    finally:
        app.conf.update(old)
        app._after_fork()
