"""Settings under environment combinations, read at import in a fresh interpreter each time.

- HTTPS-only settings follow SITE_URL's scheme; secrets may come from files (NAME_FILE);
  malformed values stop the start with a message naming the variable.
- `manage.py check --deploy` passes under production settings.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SHOW = (
    "import json, django; from django.conf import settings as s; django.setup(); print(json.dumps("
    "{n: getattr(s, n, None) for n in %r}, default=str))"
)
# Variables of the calling process that would leak into the crafted environment (the browser
# tests allow async-unsafe calls, which `check --deploy` rightly refuses).
SETTINGS_VARIABLES = (
    "SECRET_KEY",
    "ENCRYPTION_KEY",
    "ENCRYPTION_OLD_KEYS",
    "DEBUG",
    "SITE_URL",
    "MCP_GATEWAY_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "LOG_FORMAT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def environment(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(
        DJANGO_SETTINGS_MODULE="agenwork.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        ENCRYPTION_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=os.environ["DATABASE_URL"],
    )
    env.update(values)
    return {k: v for k, v in env.items() if v is not None}


def run(code: str, **values: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment(**values),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(*names: str, **values: str) -> dict:
    done = run(SHOW % (names,), **values)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_https_site_url_hardens_cookies_hsts_and_redirect():
    names = (
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_HTTPONLY",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SESSION_COOKIE_AGE",
    )

    found = settings_of(*names, SITE_URL="https://agenwork.example.com", DEBUG="false")

    assert found["SESSION_COOKIE_SECURE"] and found["CSRF_COOKIE_SECURE"]
    assert found["SESSION_COOKIE_HTTPONLY"] and found["CSRF_COOKIE_HTTPONLY"]
    assert found["SECURE_SSL_REDIRECT"] is True
    assert found["SECURE_HSTS_SECONDS"] >= 31536000
    assert found["SESSION_COOKIE_AGE"] <= 12 * 60 * 60


def test_plain_http_on_loopback_runs_without_https_only_settings():
    found = settings_of(
        "SESSION_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        SITE_URL="http://127.0.0.1:8000",
        DEBUG="false",
    )

    assert found == {
        "SESSION_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
    }


def test_behind_proxy_trusts_x_forwarded_proto():
    found = settings_of("SECURE_PROXY_SSL_HEADER", BEHIND_PROXY="true")

    assert found["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(
    "name",
    ["SECRET_KEY", "ENCRYPTION_KEY", "DATABASE_URL", "TWILIO_AUTH_TOKEN", "EMAIL_HOST_PASSWORD"],
)
def test_secrets_are_read_from_name_file(tmp_path, name):
    value = os.environ["DATABASE_URL"] if name == "DATABASE_URL" else secrets.token_urlsafe(40)
    secret = tmp_path / name.lower()
    secret.write_text(value + "\n")

    found = settings_of(
        name, **{name: None, f"{name}_FILE": str(secret), "EMAIL_HOST": "smtp.example.com"}
    )

    assert found[name] == value


def test_name_and_name_file_together_fail_at_start(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x" * 60)

    done = run("import django; django.setup()", SECRET_KEY_FILE=str(secret))

    assert done.returncode != 0
    assert "SECRET_KEY and SECRET_KEY_FILE are both set" in done.stderr


def test_unreadable_secret_file_fails_at_start(tmp_path):
    done = run(
        "import django; django.setup()",
        SECRET_KEY=None,
        SECRET_KEY_FILE=str(tmp_path / "missing"),
    )

    assert done.returncode != 0
    assert "SECRET_KEY_FILE" in done.stderr and "cannot be read" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("LOGIN_COOLOFF_SECONDS", "soon", "LOGIN_COOLOFF_SECONDS='soon' is not a whole number"),
        ("SITE_URL", "agenwork.example.com", "must be an absolute http(s) URL"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml' must be json or text"),
        ("MCP_GATEWAY_URL", "gateway:8001/mcp", "MCP_GATEWAY_URL='gateway:8001/mcp' must be"),
    ],
)
def test_malformed_values_fail_at_start_naming_the_variable(variable, value, message):
    done = run("import django; django.setup()", **{variable: value})

    assert done.returncode != 0
    assert message in done.stderr


def test_the_gateway_url_defaults_to_port_8001_of_the_sites_host():
    default = settings_of("MCP_GATEWAY_URL", SITE_URL="https://agenwork.example.com")
    chosen = settings_of("MCP_GATEWAY_URL", MCP_GATEWAY_URL="https://mcp.example.com/mcp/")

    assert default == {"MCP_GATEWAY_URL": "http://agenwork.example.com:8001/mcp"}
    assert chosen == {"MCP_GATEWAY_URL": "https://mcp.example.com/mcp"}


SSO = {
    "OIDC_ISSUER": "https://acme.okta.com",
    "OIDC_CLIENT_ID": "0oa1agenwork",
    "OIDC_CLIENT_SECRET": "a-client-secret",
}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {**SSO, "OIDC_CLIENT_SECRET": ""},
            "needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET",
        ),
        (
            {"OIDC_CLIENT_ID": "0oa1agenwork"},
            "needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET",
        ),
        ({**SSO, "OIDC_ISSUER": "http://acme.okta.com"}, "must be an https URL"),
        ({**SSO, "OIDC_SCOPES": "email profile"}, "must include openid"),
    ],
    ids=["no secret", "no issuer", "plain http", "no openid scope"],
)
def test_single_sign_on_half_configured_fails_at_start(values, message):
    done = run("import django; django.setup()", **values)

    assert done.returncode != 0
    assert message in done.stderr


def test_single_sign_on_is_read_whole_and_off_by_default():
    names = ("OIDC_ISSUER", "OIDC_SCOPES", "OIDC_EXTERNAL_ID_CLAIM", "OIDC_PROVIDER_NAME")

    off = settings_of(*names)
    on = settings_of(*names, **SSO, OIDC_SCOPES="openid email", OIDC_PROVIDER_NAME="Okta")

    assert off["OIDC_ISSUER"] == ""
    assert on == {
        "OIDC_ISSUER": "https://acme.okta.com",
        "OIDC_SCOPES": ["openid", "email"],
        "OIDC_EXTERNAL_ID_CLAIM": "sub",
        "OIDC_PROVIDER_NAME": "Okta",
    }


def test_logs_are_json_in_production_and_text_with_debug():
    production = settings_of("LOG_FORMAT", DEBUG="false")
    development = settings_of("LOG_FORMAT", DEBUG="true")
    chosen = settings_of("LOG_FORMAT", DEBUG="true", LOG_FORMAT="json")

    assert (production, development, chosen) == (
        {"LOG_FORMAT": "json"},
        {"LOG_FORMAT": "text"},
        {"LOG_FORMAT": "json"},
    )


def check_deploy(**values: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment(
            SITE_URL="https://agenwork.example.com",
            DEBUG="false",
            ALLOWED_HOSTS="agenwork.example.com",
            **values,
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_under_production_settings():
    done = check_deploy(SECRET_KEY=secrets.token_urlsafe(64))

    assert done.returncode == 0, done.stdout + done.stderr


def test_check_deploy_warns_when_the_secret_key_also_encrypts():
    key = secrets.token_urlsafe(64)

    done = check_deploy(SECRET_KEY=key, ENCRYPTION_KEY=key)

    assert done.returncode != 0
    assert "agenwork.W004" in done.stderr and "reencrypt_secrets" in done.stderr


def test_the_cache_is_redis_when_there_is_one_and_files_every_process_shares_otherwise(tmp_path):
    with_redis = settings_of("CACHES", REDIS_URL="redis://127.0.0.1:6379/14")
    without = settings_of("CACHES", REDIS_URL=None, AGENWORK_VAR_DIR=str(tmp_path))

    assert with_redis["CACHES"]["default"]["BACKEND"].endswith("RedisCache")
    assert with_redis["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/14"
    assert without["CACHES"]["default"]["BACKEND"].endswith("FileBasedCache")
    assert without["CACHES"]["default"]["LOCATION"] == str(tmp_path / "cache")


def test_dashboard_figures_refresh_every_minute_unless_told_otherwise():
    default = settings_of("DASHBOARD_FIGURES_MAX_AGE_SECONDS")
    chosen = settings_of("DASHBOARD_FIGURES_MAX_AGE_SECONDS", DASHBOARD_FIGURES_MAX_AGE_SECONDS="5")
    never = run("import django; django.setup()", DASHBOARD_FIGURES_MAX_AGE_SECONDS="0")

    assert default == {"DASHBOARD_FIGURES_MAX_AGE_SECONDS": 60}
    assert chosen == {"DASHBOARD_FIGURES_MAX_AGE_SECONDS": 5}
    assert never.returncode != 0
    assert "DASHBOARD_FIGURES_MAX_AGE_SECONDS must be at least 1" in never.stderr


# --- the key `make run` keeps under VAR_DIR ------------------------------------------------------


def make_run_var_dir(folder: Path) -> str:
    """`make run`'s first step in `folder`: its folders and, once, its key file."""
    done = subprocess.run(
        [sys.executable, "-m", "agenwork.embedded"],
        cwd=ROOT,
        env=environment(AGENWORK_VAR_DIR=str(folder), DEBUG="true", SECRET_KEY=None),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return (folder / "secret_key").read_text().strip()


def test_make_run_creates_its_key_once_readable_by_its_owner_only(tmp_path):
    first = make_run_var_dir(tmp_path)
    second = make_run_var_dir(tmp_path)

    assert first == second and len(first) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert {"broker", "broker-processed", "broker-control", "mail", "cache"} <= {
        path.name for path in tmp_path.iterdir()
    }
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_file()) == [
        "mcp_upstreams.json",
        "secret_key",
    ]


def test_commands_beside_make_run_sign_and_encrypt_with_its_key(tmp_path):
    key = make_run_var_dir(tmp_path)
    embedded = {"AGENWORK_VAR_DIR": str(tmp_path), "DATABASE_URL": None, "SECRET_KEY": None}
    embedded["ENCRYPTION_KEY"] = None

    with_debug = settings_of("SECRET_KEY", "ENCRYPTION_KEY", DEBUG="true", **embedded)
    without = settings_of("SECRET_KEY", "ENCRYPTION_KEY", DEBUG=None, **embedded)

    assert with_debug == without == {"SECRET_KEY": key, "ENCRYPTION_KEY": key}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ENCRYPTION_KEY"])
def test_a_deployment_without_a_key_fails_at_start_even_beside_a_key_file(tmp_path, missing):
    make_run_var_dir(tmp_path)

    done = run(
        "import django; django.setup()",
        AGENWORK_VAR_DIR=str(tmp_path),
        DEBUG="false",
        **{missing: None},
    )

    assert done.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in done.stderr


def test_without_make_run_a_checkout_needs_a_secret_key(tmp_path):
    done = run(
        "import django; django.setup()",
        AGENWORK_VAR_DIR=str(tmp_path),
        DATABASE_URL=None,
        SECRET_KEY=None,
    )

    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr


def test_an_empty_key_file_fails_at_start_naming_it(tmp_path):
    (tmp_path / "secret_key").write_text("\n")

    done = run(
        "import django; django.setup()",
        AGENWORK_VAR_DIR=str(tmp_path),
        DATABASE_URL=None,
        SECRET_KEY=None,
    )

    assert done.returncode != 0
    assert f"{tmp_path / 'secret_key'} is empty" in done.stderr


# --- the demo's MCP servers, configured by `make run` ---------------------------------------------


def git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repository, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_run_gives_the_demo_connectors_their_servers_and_a_repository(tmp_path):
    make_run_var_dir(tmp_path)

    upstreams = json.loads((tmp_path / "mcp_upstreams.json").read_text())
    repository = tmp_path / "demo-repo"
    assert upstreams == {
        "time": {"command": sys.executable, "args": ["-m", "mcp_server_time"]},
        "repo": {
            "command": sys.executable,
            "args": ["-m", "mcp_server_git", "--repository", str(repository)],
        },
    }
    assert git(repository, "log", "--format=%an <%ae> %s").splitlines() == [
        "Ben Kim <ben@example.com> Point the README at the checklist",
        "Ben Kim <ben@example.com> Add the release checklist",
        "Ben Kim <ben@example.com> Start the demo repository",
    ]
    assert git(repository, "status", "--porcelain", "--branch") == "## main\n"


def test_the_demo_repository_is_made_once_and_keeps_what_agents_did(tmp_path):
    make_run_var_dir(tmp_path)
    repository = tmp_path / "demo-repo"
    (repository / "NOTES.md").write_text("An agent's change\n")
    git(repository, "add", "NOTES.md")
    git(repository, "-c", "user.name=Agent", "-c", "user.email=a@example.com", "commit", "-qm", "x")
    head = git(repository, "rev-parse", "HEAD")

    make_run_var_dir(tmp_path)

    assert git(repository, "rev-parse", "HEAD") == head
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".demo-repo")] == []


def test_settings_read_make_runs_upstreams_only_on_the_embedded_defaults(tmp_path):
    make_run_var_dir(tmp_path)
    written = (tmp_path / "mcp_upstreams.json").read_text()
    embedded = {"AGENWORK_VAR_DIR": str(tmp_path), "DATABASE_URL": None, "DEBUG": "true"}
    chosen = '{"time": {"command": "mcp-server-time"}}'

    beside_make_run = settings_of("MCP_UPSTREAMS", **embedded)
    set_by_ops = settings_of("MCP_UPSTREAMS", **{**embedded, "MCP_UPSTREAMS": chosen})
    deployment = settings_of("MCP_UPSTREAMS", AGENWORK_VAR_DIR=str(tmp_path))

    assert beside_make_run == {"MCP_UPSTREAMS": written}
    assert set_by_ops == {"MCP_UPSTREAMS": chosen}
    assert deployment == {"MCP_UPSTREAMS": ""}


# --- the encryption key ---------------------------------------------------------------------------


def test_a_deployment_without_encryption_key_fails_at_start():
    done = run("import django; django.setup()", ENCRYPTION_KEY=None, DEBUG="false")

    assert done.returncode != 0
    assert "ENCRYPTION_KEY must be set when DEBUG is off" in done.stderr
    assert "ENCRYPTION_OLD_KEYS" in done.stderr and "reencrypt_secrets" in done.stderr


def test_with_debug_the_secret_key_encrypts_when_no_encryption_key_is_set():
    key = secrets.token_urlsafe(50)

    found = settings_of("ENCRYPTION_KEY", SECRET_KEY=key, ENCRYPTION_KEY=None, DEBUG="true")

    assert found == {"ENCRYPTION_KEY": key}


def test_old_encryption_keys_are_a_comma_separated_list_empty_by_default():
    default = settings_of("ENCRYPTION_OLD_KEYS")
    listed = settings_of("ENCRYPTION_OLD_KEYS", ENCRYPTION_OLD_KEYS="first-old-key, second-old-key")

    assert default == {"ENCRYPTION_OLD_KEYS": []}
    assert listed == {"ENCRYPTION_OLD_KEYS": ["first-old-key", "second-old-key"]}
