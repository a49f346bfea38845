from __future__ import annotations

from django.apps import AppConfig


class AgenworkConfig(AppConfig):
    name = "agenwork"
    verbose_name = "agenwork"

    def ready(self) -> None:
        from agenwork import checks  # noqa: F401 (registers the system checks)
