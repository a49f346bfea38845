"""The company's identity provider in the tests: `oidc-provider` from npm, in a Node process.

- tests/support/oidc_provider/ holds its script and its package.json / package-lock.json;
  `make test` (and `make pytest`) run `npm ci` there when node_modules is missing.
- One process serves a whole test session (per xdist worker). Its accounts are ACCOUNTS; each
  test registers a client of its own (OpenID Connect dynamic registration) with the exact
  redirect URI it will use, so no test depends on another's client or port.
- Its login page takes any password for a known account; its consent page asks once per
  client and browser.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import selectors
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urljoin

import requests

from tests.support.ports import free_port

FOLDER = Path(__file__).resolve().parent / "oidc_provider"
START_TIMEOUT_SECONDS = 20

# The people the identity provider knows, by account id (their `sub`). The tests' directory
# (tests/directory/test_sso_browser.py) lists some of them, by email or external id.
ACCOUNTS: dict[str, dict[str, object]] = {
    # In the directory, email verified: signs in.
    "ana": {"email": "ana@example.com", "email_verified": True, "name": "Ana Lopez"},
    # In the directory with a console login of his own already (an approver).
    "dana": {"email": "DANA@example.com", "email_verified": True, "name": "Dana Levi"},
    # Ana's email, not verified: anybody could have typed it.
    "mallory": {"email": "ana@example.com", "email_verified": False, "name": "Mallory"},
    # Verified, but the directory does not list her.
    "oscar": {"email": "oscar@elsewhere.example", "email_verified": True, "name": "Oscar"},
    # In the directory, locked by an admin.
    "lena": {"email": "lena@example.com", "email_verified": True, "name": "Lena Locked"},
    # In the directory by external id only: her email at the provider is another one.
    "emp-0042": {"email": "kim.private@mail.example", "email_verified": False, "name": "Kim"},
}


@dataclass(frozen=True)
class RegisteredClient:
    """A client of the identity provider, as registered by one test."""

    client_id: str
    client_secret: str


@dataclass
class IdentityProvider:
    """A running oidc-provider: its issuer, and what registering a client needs."""

    issuer: str
    process: subprocess.Popen
    initial_access_token: str
    log_path: Path

    def register_client(self, redirect_uri: str) -> RegisteredClient:
        """A confidential web client allowed exactly this redirect URI."""
        response = requests.post(
            f"{self.issuer}/reg",
            json={
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "client_secret_basic",
                "client_name": "agenwork console",
            },
            headers={"Authorization": f"Bearer {self.initial_access_token}"},
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        return RegisteredClient(body["client_id"], body["client_secret"])

    def stop(self) -> None:
        """Close its standard input (it exits by itself then); kill it if it does not."""
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


class ProviderNotStarted(RuntimeError):
    """The Node process could not be started or did not say it was ready."""


def start_identity_provider(log_dir: Path, attempts: int = 3) -> IdentityProvider:
    """Start oidc-provider on a free port and wait (with a deadline) until it listens.

    - Another process may take the port between `free_port` and Node's listen: then it starts
      again on another one, up to `attempts` times.
    """
    for attempt in range(1, attempts + 1):
        try:
            return _start(log_dir)
        except ProviderNotStarted:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


def _start(log_dir: Path) -> IdentityProvider:
    node = shutil.which("node")
    if node is None:
        raise ProviderNotStarted("node is not on PATH: the SSO tests need Node.js 20.19 or later")
    if not (FOLDER / "node_modules" / "oidc-provider").is_dir():
        raise ProviderNotStarted(
            f"{FOLDER}/node_modules is missing: run `npm ci --prefix {FOLDER}` "
            "(make test and make pytest do)"
        )
    port, token = free_port(), secrets.token_urlsafe(24)
    log_path = log_dir / "oidc-provider.log"
    env = {
        **os.environ,
        "OIDC_TEST_PORT": str(port),
        "OIDC_TEST_ACCOUNTS": json.dumps(ACCOUNTS),
        "OIDC_TEST_INITIAL_TOKEN": token,
        "NODE_ENV": "test",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [node, "provider.mjs"],
            cwd=FOLDER,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    issuer = _wait_until_ready(process, log_path)
    return IdentityProvider(issuer, process, token, log_path)


def _wait_until_ready(process: subprocess.Popen, log_path: Path) -> str:
    """The issuer from the `ready <issuer>` line, read before the deadline."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    stdout: IO[str] = process.stdout  # type: ignore[assignment]
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(timeout=left):
                continue
            line = stdout.readline()
            if line.startswith("ready "):
                return line.split(" ", 1)[1].strip()
            if not line and process.poll() is not None:
                break
    process.kill()
    raise ProviderNotStarted(f"oidc-provider did not start: {log_path.read_text()[-2000:]}")


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


def sign_in_at_provider(authorization_url: str, login: str, *, redirect_uri: str) -> str:
    """What a browser does at the provider, without one: its login and consent forms, posted.

    Returns the URL the provider sends the browser back to (the redirect URI with `code` and
    `state`), without following it. For tests that drive the console with Django's client; the
    browser tests go through the same pages in Chromium.
    """
    agent = requests.Session()
    url = authorization_url
    for _ in range(12):
        if url.startswith(redirect_uri):
            return url
        response = agent.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
            continue
        action = FORM_ACTION.search(response.text)
        if response.status_code != 200 or action is None:
            raise AssertionError(f"the provider answered {response.status_code}: {response.text}")
        prompt = "login" if 'name="login"' in response.text else "consent"
        form = {"prompt": prompt, "login": login, "password": "any password"}
        posted = agent.post(
            urljoin(url, action.group(1)), data=form, allow_redirects=False, timeout=10
        )
        url = urljoin(url, posted.headers["Location"])
    raise AssertionError(f"the provider never sent the browser back to {redirect_uri}")
