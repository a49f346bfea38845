"""The deployment files agree with each other and with agenwork/settings.py.

- docker-compose.yml: the services, their commands, health checks, start order, one beat.
- Every variable the app containers are given is one that settings.py reads.
- .env.example documents every variable settings.py reads, and nothing it does not.
- Procfile and Procfile.dev declare web, worker and beat.
- The Docker image collects static files when it is built.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
# Read by docker compose itself (interpolation), not by the app.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD"}

SETTINGS_READ = re.compile(
    r"""(?:\benv_(?:str|bool|int|list)\(|\bos\.environ\.get\(|\bos\.environ\[|\bos\.getenv\()"""
    r"""\s*["']([A-Z][A-Z0-9_]*)["']"""
)
ENV_EXAMPLE_KEY = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
INTERPOLATION = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")


def settings_variables() -> set[str]:
    return set(SETTINGS_READ.findall((ROOT / "agenwork" / "settings.py").read_text()))


def env_example_variables() -> set[str]:
    return set(ENV_EXAMPLE_KEY.findall((ROOT / ".env.example").read_text()))


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def environment_keys(service: dict) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, dict):
        return set(environment)
    return {item.split("=", 1)[0] for item in environment}


def procfile(name: str) -> dict[str, str]:
    lines = (ROOT / name).read_text().splitlines()
    return dict(line.split(":", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_settings_variables_are_found_by_the_pattern():
    found = settings_variables()

    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN"} <= found


def test_compose_declares_every_service(compose):
    assert {"postgres", "redis", *APP_SERVICES} <= set(compose["services"])


def test_compose_runs_exactly_one_beat(compose):
    beat = compose["services"]["beat"]

    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert beat.get("scale", 1) == 1


def test_compose_web_runs_gunicorn_on_the_wsgi_app(compose):
    command = command_of(compose["services"]["web"])

    assert command.startswith("gunicorn agenwork.wsgi")
    assert "8000" in command


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_compose_celery_services_run_the_agenwork_app(compose, role):
    assert command_of(compose["services"][role]).startswith(f"celery -A agenwork {role}")


def test_compose_checks_the_health_of_postgres_and_redis(compose):
    services = compose["services"]

    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert "redis-cli ping" in " ".join(services["redis"]["healthcheck"]["test"])


def test_compose_migrates_once_before_the_app_starts(compose):
    services = compose["services"]

    assert command_of(services["migrate"]) == "python manage.py migrate --noinput"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for role in ("web", "worker", "beat"):
        depends_on = services[role]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", role


@pytest.mark.parametrize("role", APP_SERVICES)
def test_compose_app_services_read_the_env_file(compose, role):
    env_file = compose["services"][role]["env_file"]

    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)


@pytest.mark.parametrize("role", APP_SERVICES)
def test_compose_gives_the_app_only_variables_settings_reads(compose, role):
    service = compose["services"][role]
    interpolated = set(INTERPOLATION.findall(yaml.safe_dump(service)))

    unknown = (environment_keys(service) | interpolated) - settings_variables()

    assert not unknown, f"{role} is given variables settings.py never reads: {sorted(unknown)}"


def test_env_example_documents_every_setting_variable():
    missing = settings_variables() - env_example_variables()

    assert not missing, f".env.example does not document {sorted(missing)}"


def test_env_example_documents_only_variables_something_reads():
    compose_text = (ROOT / "docker-compose.yml").read_text()
    unused = env_example_variables() - settings_variables() - COMPOSE_ONLY_VARIABLES

    assert not unused, f".env.example documents variables nothing reads: {sorted(unused)}"
    for name in COMPOSE_ONLY_VARIABLES:
        assert f"${{{name}" in compose_text, name


@pytest.mark.parametrize("name", ["Procfile", "Procfile.dev"])
def test_procfile_declares_web_worker_and_beat(name):
    processes = procfile(name)

    assert {"web", "worker", "beat"} <= set(processes)
    assert "celery -A agenwork worker" in processes["worker"]
    assert "celery -A agenwork beat" in processes["beat"]
    assert "$PORT" in processes["web"]


def test_production_procfile_serves_with_gunicorn():
    web = procfile("Procfile")["web"].strip()

    assert web.startswith("gunicorn agenwork.wsgi --bind 0.0.0.0:$PORT")


def systemd_unit(role: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    unit.read_string((ROOT / "deploy" / "systemd" / f"agenwork-{role}.service").read_text())
    return unit


@pytest.mark.parametrize("role", ["web", "worker", "beat"])
def test_systemd_units_start_a_process_again_whenever_it_exits(role):
    service = systemd_unit(role)["Service"]

    assert service["Restart"] == "always"
    assert float(service["RestartSec"]) <= 5
    assert service["EnvironmentFile"] == "/etc/agenwork/agenwork.env"


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_systemd_units_run_the_procfile_commands(role):
    command = systemd_unit(role)["Service"]["ExecStart"]
    program, arguments = command.split(" ", 1)

    assert program.endswith("/.venv/bin/celery")
    assert ("celery " + arguments).startswith(procfile("Procfile")[role].strip())


def test_systemd_beat_keeps_its_schedule_in_its_state_directory():
    service = systemd_unit("beat")["Service"]

    assert f"--schedule /var/lib/{service['StateDirectory']}/" in service["ExecStart"]


def test_the_image_collects_static_files_with_debug_off_when_it_is_built():
    """Every page needs the manifest collectstatic writes (agenwork.W001): the image has it."""
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^\s+STATIC_ROOT=/app/staticfiles", dockerfile, re.M)
    assert re.search(r"DEBUG=false python manage\.py collectstatic --noinput", dockerfile)
