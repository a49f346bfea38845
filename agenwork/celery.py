"""The Celery application: tasks are found in each app's tasks.py."""

from __future__ import annotations

import os

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
