"""`manage.py seed_demo [--requests N]`: the canonical demo scenario plus N generated requests."""

from __future__ import annotations

import time
from argparse import RawDescriptionHelpFormatter
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from requests_app import demo

HELP = """Load the demo data of DESIGN.md §9: the connectors google-calendar, github and slack,
time and repo (backed by the reference MCP servers mcp-server-time and mcp-server-git, which ops
configure in MCP_UPSTREAMS; `make run` does it for its demo), the groups Sales, Engineering and
Security, Ana, Ben, Dana and Lee, the flows "Sales approvals" (Email and SMS, auto-approves after
24 h) and "Engineering approvals" (Email, expires after 48 h), both approved by Security, twelve
policies, a few pending requests from Ana, and N generated requests across a few hundred to a few
thousand synthetic people and the last 90 days.

Safe to run again. Scenario objects are matched by natural key (slug, name, email, username)
and brought back to their canonical values; logins keep their password once created. Generated
requests are marked (their dedupe key starts with "demo:"): a run counts them and adds only the
missing ones up to N, and adds none when N or more exist. An interrupted run keeps the batches
it committed; the next run completes them.

Each generated request is one the demo policies would create: Sales' calendar changes through
"Sales approvals", Sales' GitHub issues and Engineering's Slack posts through "Engineering
approvals", asked by an active member of the policy's group, with a note and arguments about
the same meeting, repository or channel. 15 % are pending, younger than their flow's timeout
(the sweep decides them as they come due); the others were approved, denied, cancelled or timed
out (with their flow's outcome) over the last 90 days. Each has the history and the messages
the services would have written: the approvers asked, the reminder when one came due, the
decision, "decided by someone else" and the outcome to the requester.

On PostgreSQL they stream in with COPY in batches of 20,000, each committed on its own; as a
superuser the batches skip the per-row foreign-key triggers (session_replication_role =
replica, as pg_restore does). A million requests take a few minutes; SQLite uses bulk_create
and suits a few thousand.

Logins: admin / agenwork-demo (admin) and dana / agenwork-demo (approver, Dana Levi)."""


class _ProgressStream:
    """tqdm writes carriage returns without newlines; OutputWrapper would append one."""

    def __init__(self, wrapper: Any) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, ending="")

    def flush(self) -> None:
        self.wrapper.flush()

    def __getattr__(self, name: str) -> Any:
        # isatty, fileno, encoding: tqdm sizes and draws the bar from them.
        return getattr(self.wrapper, name)


class Command(BaseCommand):
    """Load the canonical demo scenario and N generated requests; safe to run twice."""

    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("formatter_class", RawDescriptionHelpFormatter)
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--requests",
            type=int,
            default=200,
            metavar="N",
            help="How many generated requests should exist in the end (default 200; 0 adds none).",
        )
        parser.add_argument(
            "--seed", type=int, default=42, help="Seed of the random generator (default 42)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be added; change nothing."
        )

    def handle(self, *args: Any, requests: int, seed: int, **options: Any) -> None:
        """Seed the scenario, the logins, Ana's requests, then the generated requests."""
        if requests < 0:
            raise CommandError("--requests must be 0 or more")
        if options.get("dry_run"):
            missing = max(requests - demo.generated_count(), 0)
            self.stdout.write(
                "Dry run: nothing was changed. A run would create or restore the demo scenario "
                f"and its logins, and add {missing} generated request(s) to reach {requests}."
            )
            return
        started = time.monotonic()
        with demo.seed_lock():
            scenario = demo.seed_scenario()
            logins = demo.seed_logins(scenario)
            handwritten = demo.seed_handwritten_requests(scenario)
            added = self._generate(scenario, logins, requests, seed, options["verbosity"])
        self._report(handwritten, added, time.monotonic() - started, logins)

    def _generate(
        self,
        scenario: demo.Scenario,
        logins: list[demo.Login],
        target: int,
        seed: int,
        verbosity: int,
    ) -> int:
        """Add the missing generated requests behind a progress bar on stderr."""
        missing = max(target - demo.generated_count(), 0)
        with tqdm(
            total=missing,
            unit="req",
            unit_scale=True,
            desc="Generating requests",
            file=_ProgressStream(self.stderr),
            disable=missing == 0 or verbosity == 0,
        ) as bar:
            return demo.generate_requests(
                scenario=scenario, logins=logins, target=target, seed=seed, progress=bar.update
            )

    def _report(
        self, handwritten: int, added: int, seconds: float, logins: list[demo.Login]
    ) -> None:
        total = demo.generated_count()
        self.stdout.write(
            f"Demo scenario ready; {handwritten} hand-written request(s) added; "
            f"{added} generated request(s) added, {total} in all ({seconds:.1f} s)."
        )
        self.stdout.write(f"Log in at {settings.SITE_URL}/accounts/login/ as:")
        for login in logins:
            kept = "" if login.created else "; existing login, password left as it was"
            self.stdout.write(f"  {login.username} / {demo.DEMO_PASSWORD}  ({login.role}{kept})")
