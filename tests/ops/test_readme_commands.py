"""The README's commands work as printed, from the checkout, while `make run` runs.

- One `make run` for the module (tests/support/make_run.py: the Makefile's set-up steps, then
  honcho over Procfile.dev) in a folder of its own, on a free port.
- The commands run in a terminal that has none of make run's variables (no DEBUG, no SECRET_KEY),
  only AGENWORK_VAR_DIR, which points at the module's folder instead of var/.
- "The gateway API": its sh blocks run in one bash, as typed, with only the address changed; each
  answer is checked against the README's comment below it. Between the blocks Dana approves Ana's
  request in the running console, and `ID=…` is given the id of the approval_required answer.
- "Connect your agents": Ben's token made as printed, then the SDK script run as printed (but for
  the gateway's address and the demo repository's folder) against make run's own gateway, in
  front of the servers `make run` configured and synced.
- "Operations": every command answers `--help`, and each harmless one runs for real.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway import health
from tests.support.make_run import ROOT, Console, Runner, shell_env

README = (ROOT / "README.md").read_text()
PRINTED_ADDRESS = "127.0.0.1:8000"
PRINTED_GATEWAY = "127.0.0.1:8300"
PRINTED_REPOSITORY = 'Path("var/demo-repo")'
BLOCK_SECONDS = 120
# A marker the shell prints on stderr once a block has run.
DONE = "readme-block-done"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    runner = Runner(tmp_path_factory.mktemp("make-run"))
    try:
        runner.start()
        runner.wait_until_serving()
        yield runner
    finally:
        runner.stop()


# --- the README, read ---------------------------------------------------------------------------


def section(title: str) -> str:
    found = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.MULTILINE | re.DOTALL)
    assert found, f"README.md has no section {title!r}"
    return found[1]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


@dataclass
class Step:
    """A command of a block and what the README says it answers (the comment after or below it)."""

    command: str
    expected: str = ""

    @property
    def answers(self) -> bool:
        """It prints an answer of the API (the other lines set variables)."""
        return self.command.startswith(("decide ", "curl "))


def steps_of(block: str) -> list[Step]:
    steps: list[Step] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            steps[-1].expected += line.lstrip()[1:].strip() + " "
            continue
        command, _, comment = line.partition("   # ")
        if steps and not steps[-1].expected and command.startswith(" "):
            steps[-1].command += "\n" + command  # a command continued on the next line
        else:
            steps.append(Step(command.strip()))
        steps[-1].expected += comment
    return steps


def first_object(text: str) -> str:
    """The first {...} of a comment: the answer the README shows (prose may follow it)."""
    start, depth = text.index("{"), 0
    for position in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[position], 0)
        if depth == 0:
            return text[start : position + 1]
    raise AssertionError(f"unbalanced answer in the README: {text}")


def promised_fields(comment: str) -> list[tuple[str, str | None]]:
    """The `"name": "value"` and `"name": null` pairs of the README's answer, except "…"."""
    pairs = re.findall(r'"(\w+)": (?:"([^"]*)"|(null))', first_object(comment))
    return [(name, None if null else value) for name, value, null in pairs if value != "…"]


def has_field(answer: Any, name: str, value: str | None) -> bool:
    """Whether the answer, or an object inside it, has `name` with this value."""
    if isinstance(answer, dict):
        if answer.get(name, ...) == value:
            return True
        return any(has_field(item, name, value) for item in answer.values())
    if isinstance(answer, list):
        return any(has_field(item, name, value) for item in answer)
    return False


def json_values(text: str) -> list[Any]:
    """The JSON documents printed one after the other (curl adds no newline)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while position < len(text.rstrip()):
        while text[position].isspace():
            position += 1
        value, position = decoder.raw_decode(text, position)
        values.append(value)
    return values


def check_answer(step: Step, answer: Any) -> None:
    status = re.match(r"(\d{3})\b\s*(\w*)", step.expected)
    if status and status[1] == "200":
        assert "error" not in answer, (step.command, answer)
    elif status:
        assert answer.get("error", {}).get("code") == status[2], (step.command, answer)
    else:
        for name, value in promised_fields(step.expected):
            assert has_field(answer, name, value), (step.command, name, value, answer)


# --- a terminal in the checkout -----------------------------------------------------------------


class Terminal:
    """One bash in the checkout, fed the README's lines as a person pastes them."""

    def __init__(self, var_dir: Path) -> None:
        self.out, self.err = var_dir / "terminal.out", var_dir / "terminal.err"
        self.bash = subprocess.Popen(
            ["bash"],
            cwd=ROOT,
            env=shell_env(var_dir),
            stdin=subprocess.PIPE,
            stdout=self.out.open("wb"),
            stderr=self.err.open("wb"),
            text=True,
        )

    def run(self, block: str) -> str:
        """Run a block; what it printed on stdout."""
        assert self.bash.stdin is not None
        before, done = len(self.out.read_bytes()), self.err.read_text().count(DONE)
        self.bash.stdin.write(f"{block}\necho {DONE} >&2\n")
        self.bash.stdin.flush()
        deadline = time.monotonic() + BLOCK_SECONDS
        while self.err.read_text().count(DONE) == done:
            assert self.bash.poll() is None, self.err.read_text()
            assert time.monotonic() < deadline, self.err.read_text()
            time.sleep(0.1)
        return self.out.read_bytes()[before:].decode()

    def close(self) -> None:
        """End of input: bash exits (killed if it does not)."""
        assert self.bash.stdin is not None
        self.bash.stdin.close()
        try:
            self.bash.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.bash.kill()
            self.bash.wait()


@pytest.fixture
def terminal(demo: Runner) -> Iterator[Terminal]:
    terminal = Terminal(demo.folder)
    yield terminal
    terminal.close()


def run_block(terminal: Terminal, block: str, address: str) -> list[tuple[Step, Any]]:
    """Run a block as printed (but for the address); each answering step with its answer."""
    printed = terminal.run(block.replace(PRINTED_ADDRESS, address))
    answering = [step for step in steps_of(block) if step.answers]
    answers = json_values(printed)
    assert len(answers) == len(answering), (printed, terminal.err.read_text())
    return list(zip(answering, answers, strict=True))


def test_the_gateway_scenario_answers_as_the_readme_says(demo, terminal):
    decisions, after_approval = sh_blocks(section("The gateway API"))
    assert "ID=…" in after_approval
    address = demo.url.removeprefix("http://")

    answered = run_block(terminal, decisions, address)
    for step, answer in answered:
        check_answer(step, answer)
    [request_id] = [a["request"]["id"] for _, a in answered if a["request"] is not None]
    dana = Console(demo.url)
    dana.log_in("dana")
    dana.approve(request_id)
    answered = run_block(terminal, after_approval.replace("ID=…", f"ID={request_id}"), address)

    for step, answer in answered:
        check_answer(step, answer)
    assert [step.expected.split()[0] for step, _ in answered[1:]] == ["200", "409"]
    consumed = rf'"POST /api/v1/requests/{request_id}/consume HTTP/1\.1" (\d+)'
    # The access log reaches the file through honcho after the answer reaches curl.
    demo.wait_for(consumed, count=2)
    assert re.findall(consumed, demo.log()) == ["200", "409"]


def test_a_webhook_secret_stored_by_a_command_is_the_one_the_worker_signs_with(demo, receiver):
    """`create_api_key --webhook-url` encrypts the secret; make run's worker must decrypt it."""
    made = manage(demo, "create_api_key", "hooks", "--webhook-url", receiver.url)
    assert made.returncode == 0, made.stderr
    receiver.secret = re.search(r"Webhook signing secret \(shown once\): (\S+)", made.stderr)[1]
    call = {"user": "ana@example.com", "connector": "google-calendar"}
    call["tools"] = ["google-calendar_events_update"]
    request = urllib.request.Request(
        f"{demo.url}/api/v1/decisions",
        json.dumps(call).encode(),
        {"Authorization": f"Bearer {made.stdout.splitlines()[-1]}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        request_id = json.load(response)["request"]["id"]
    admin = Console(demo.url)
    admin.log_in("admin")

    admin.approve(request_id)

    deadline = time.monotonic() + BLOCK_SECONDS
    while not receiver.hits:
        assert time.monotonic() < deadline, f"no webhook came:\n{demo.log()}"
        time.sleep(0.2)
    [hit] = receiver.hits
    assert hit.verified
    assert json.loads(hit.body)["id"] == request_id
    assert json.loads(hit.body)["status"] == "approved"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


# Ben's tools as the README lists them: the time, the git reads, and the changes that need approval.
BENS_TOOLS = [
    "repo_git_add", "repo_git_branch", "repo_git_commit", "repo_git_create_branch", "repo_git_diff",
    "repo_git_diff_staged", "repo_git_diff_unstaged", "repo_git_log", "repo_git_show",
    "repo_git_status", "time_convert_time", "time_get_current_time",
]  # fmt: skip


def test_bens_agent_reaches_the_demo_servers_through_make_runs_gateway(demo, tmp_path):
    assert "create_gateway_token ben@example.com --expires-in 30" in section("Connect your agents")
    made = manage(demo, "create_gateway_token", "ben@example.com", "--expires-in", "30")
    assert made.returncode == 0, made.stderr
    gateway = f"127.0.0.1:{demo.port + 300}"  # honcho's fourth process
    deadline = time.monotonic() + BLOCK_SECONDS
    while health(f"http://{gateway}")[0] != 200:
        assert time.monotonic() < deadline, demo.log()
        time.sleep(0.2)
    [script] = python_blocks(section("Connect your agents"))
    assert PRINTED_GATEWAY in script and PRINTED_REPOSITORY in script
    check = tmp_path / "check_gateway.py"
    check.write_text(
        script.replace(PRINTED_GATEWAY, gateway).replace(
            PRINTED_REPOSITORY, f"Path({str(demo.folder / 'demo-repo')!r})"
        )
    )

    done = subprocess.run(
        [".venv/bin/python", str(check), made.stdout.splitlines()[-1]],
        cwd=ROOT,
        env=shell_env(demo.folder),
        capture_output=True,
        text=True,
        timeout=BLOCK_SECONDS,
    )

    assert done.returncode == 0, done.stderr
    listed, rest = done.stdout.split("\n", 1)
    assert json.loads(listed.replace("'", '"')) == BENS_TOOLS
    assert 'time_get_current_time ok {\n  "timezone": "UTC"' in rest
    assert "repo_git_status ok Repository status:\nOn branch main" in rest
    denied = rest[rest.index("repo_git_reset error") :]
    assert "policy_deny" in denied and "No agent resets or checks out the demo repository" in denied


# --- the Operations table -----------------------------------------------------------------------

# What each command of the table runs with here: every option is one the README prints for it.
RUN_FOR_REAL = {
    "migrate": [],  # nothing left to apply: it asks nothing
    "seed_demo": ["--requests", "5", "--dry-run"],
    "process_due": ["--dry-run"],
    "send_test_notification": ["--to", "ops@example.com", "--dry-run"],
    "create_api_key": ["another-gateway", "--webhook-url", "https://gw.example.com/", "--dry-run"],
    "load_connector_catalog": ["--dry-run"],
    "import_directory": ["{directory_csv}", "--dry-run"],
    "create_scim_token": ["okta"],
    "create_gateway_token": ["ben@example.com", "--expires-in", "30"],
    "sync_connector_tools": [],  # the demo's time and repo, from the servers make run configured
    "prune_activity": ["--older-than", "90", "--dry-run"],
    "reencrypt_secrets": [],  # nothing to move: the demo's secrets are under its one key
}
# Asks for a password at the terminal; needs a token's prefix, printed only when it was created.
HELP_ONLY = {"createsuperuser", "revoke_gateway_token"}
DIRECTORY_CSV = "name,email,external_id,phone,mfa,groups\nKim Lee,kim@example.com,,,true,Sales\n"


def operations() -> dict[str, str]:
    """Command name → its line in the Operations table."""
    rows = re.findall(r"^\| `manage\.py (\w+)([^`]*)` \|", section("Operations"), re.MULTILINE)
    return {name: usage for name, usage in rows}


def manage(demo: Runner, *args: str) -> subprocess.CompletedProcess[str]:
    """`.venv/bin/python manage.py …` typed in a terminal in the checkout."""
    return subprocess.run(
        [".venv/bin/python", "manage.py", *args],
        cwd=ROOT,
        env=shell_env(demo.folder),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_command_of_the_operations_table_is_known_here():
    assert set(operations()) == set(RUN_FOR_REAL) | HELP_ONLY


@pytest.mark.parametrize("name", sorted(operations()))
def test_each_operations_command_answers_help(demo, name):
    done = manage(demo, name, "--help")

    assert done.returncode == 0, done.stderr
    assert "usage: manage.py" in done.stdout


@pytest.mark.parametrize("name", sorted(RUN_FOR_REAL))
def test_each_harmless_operations_command_runs_as_printed(demo, tmp_path, name):
    directory_csv = tmp_path / "people.csv"
    directory_csv.write_text(DIRECTORY_CSV)
    args = [arg.format(directory_csv=directory_csv) for arg in RUN_FOR_REAL[name]]
    printed = operations()[name]
    assert all(arg in printed for arg in args if arg.startswith("--")), printed

    done = manage(demo, name, *args)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
