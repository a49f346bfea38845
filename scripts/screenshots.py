"""Take the README's screenshots from a throwaway demo console (`make screenshots`).

Seeds a temporary SQLite database with `manage.py migrate` and `seed_demo`, starts
`manage.py runserver` on a free port, logs in as the demo admin in headless Chromium, approves
one request at once from its review panel (so the Dashboard has a possible rubber-stamp to show),
and saves PNGs of the Requests page with a review panel open, the confirmation of a decision on
three requests at once, the Policies page, the Dashboard, the Activity trail, and the Requests
page on a phone. Nothing outside the temporary folder and the output folder is written.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The demo admin that `make run` prints (requests_app/demo/scenario.py).
LOGIN = ("admin", "agenwork-demo")
VIEWPORT = {"width": 1440, "height": 900}
SHOTS = (
    "requests.png",
    "policies.png",
    "dashboard.png",
    "activity.png",
    "requests-bulk.png",
    "requests-phone.png",
)
PHONE = {"width": 390, "height": 844}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go"
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="generated demo requests (seed_demo)"
    )
    return parser.parse_args(argv)


def demo_env(folder: Path) -> dict[str, str]:
    """The environment of the throwaway console: everything under `folder`, mail to files."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
        "AGENWORK_VAR_DIR": str(folder),
        "CELERY_BROKER_URL": "memory://",
        "DEBUG": "true",
        "SECRET_KEY": "screenshots-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "REDIS_URL": "",
        "EMAIL_HOST": "",
        "SITE_URL": "http://127.0.0.1:8000",
    }


def manage(env: dict[str, str], *args: str) -> None:
    command = [sys.executable, "manage.py", *args]
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603 (our own manage.py)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            # An http:// URL this script built.
            urllib.request.urlopen(url + "/accounts/login/", timeout=2).close()  # noqa: S310
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def shoot(base: str, out: Path) -> list[Path]:
    """Drive the console and save the PNGs; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        # Land on Requests, not the Dashboard: its figures would be cached before the approval.
        page.goto(f"{base}/accounts/login/?next=/requests/")
        page.fill("#id_username", LOGIN[0])
        page.fill("#id_password", LOGIN[1])
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/requests/")
        rows = page.locator("a.request-link")
        rows.nth(1).click()
        page.locator("#panel button", has_text="Approve for user").click()
        page.locator("#panel .decision-summary").wait_for()
        page.goto(f"{base}/requests/")
        rows.first.click()
        page.locator("#panel button", has_text="Approve for user").wait_for()
        page.screenshot(path=out / SHOTS[0])
        page.goto(f"{base}/requests/")
        for box in page.locator("input[name=ids]").all()[2:5]:
            box.check()
        page.get_by_role("button", name="Approve…").click()
        page.locator("#panel [data-bulk-confirm]").wait_for()
        page.screenshot(path=out / SHOTS[4])
        page.goto(f"{base}/policies/")
        page.screenshot(path=out / SHOTS[1])
        page.goto(f"{base}/activity/")
        page.screenshot(path=out / SHOTS[3])
        # Tall enough for the whole Dashboard, and the sidebar still reaches the bottom.
        page.set_viewport_size({"width": VIEWPORT["width"], "height": 1380})
        page.goto(f"{base}/")
        page.screenshot(path=out / SHOTS[2])
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/requests/")
        page.screenshot(path=out / SHOTS[5])
        browser.close()
    return [out / name for name in SHOTS]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="agenwork-screenshots-") as tmp:
        env = demo_env(Path(tmp))
        manage(env, "migrate", "--noinput", "--verbosity", "0")
        manage(env, "seed_demo", "--requests", str(args.requests))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(  # noqa: S603 (our own manage.py)
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env={**env, "SITE_URL": base},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up(base)
            for path in shoot(base, args.out.resolve()):
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
