"""scripts/screenshots.py (make screenshots) imports and explains itself; CI does not run it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def _module():
    spec = importlib.util.spec_from_file_location("screenshots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_names_the_options():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    )
    assert "--out" in result.stdout and "--requests" in result.stdout


def test_the_demo_runs_in_its_own_folder(tmp_path):
    module = _module()
    env = module.demo_env(tmp_path)
    assert env["DATABASE_URL"] == f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert env["AGENWORK_VAR_DIR"] == str(tmp_path)
    assert module.parse_args([]).out == module.ROOT / "docs" / "screenshots"
    assert all((module.ROOT / "docs" / "screenshots" / name).is_file() for name in module.SHOTS)
