"""docker-compose.yml health checks and volumes, beyond tests/test_deployment_files.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def check_of(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def test_web_is_healthy_when_healthz_answers(services):
    command = check_of(services["web"])

    assert "http://127.0.0.1:8000/healthz" in command
    assert services["web"]["healthcheck"]["start_period"]


def test_worker_is_healthy_when_it_answers_a_ping(services):
    assert "celery -A agenwork inspect ping" in check_of(services["worker"])


def test_database_and_queue_keep_their_data_in_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    postgres, redis = compose["services"]["postgres"], compose["services"]["redis"]
    assert "postgres-data:/var/lib/postgresql/data" in postgres["volumes"]
    assert "redis-data:/data" in redis["volumes"]
    assert {"postgres-data", "redis-data"} <= set(compose["volumes"])


def test_app_services_wait_for_a_healthy_redis(services):
    for role in ("web", "worker", "beat"):
        assert services[role]["depends_on"]["redis"]["condition"] == "service_healthy", role


@pytest.mark.parametrize("role", ["web", "worker", "beat"])
def test_a_process_that_exits_is_started_again(services, role):
    assert services[role]["restart"] in ("always", "unless-stopped")
