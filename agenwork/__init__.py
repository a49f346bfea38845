"""agenwork: a console that governs what employees' AI agents may do in SaaS tools."""

from agenwork.celery import app as celery_app

__all__ = ["celery_app"]
