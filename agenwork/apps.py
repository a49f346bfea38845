from __future__ import annotations

from django.apps import AppConfig


class AgenworkConfig(AppConfig):
    name = "agenwork"
    verbose_name = "agenwork"
