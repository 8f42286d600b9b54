"""The apps import downward only (tenants <- agents_config <- sessions_app <- worker <- config),
checked by import-linter's contract in pyproject.toml, as ``.ci/run`` does."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_layers_contract_names_every_app_top_down():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    assert contract["layers"] == ["config", "worker", "sessions_app", "agents_config", "tenants"]
    assert sorted(config["root_packages"]) == sorted(contract["layers"])


def test_lint_imports_keeps_the_contract():
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The check is real: a ground-layer module importing the worker is reported."""
    config = tmp_path / "importlinter.ini"
    config.write_text(
        "[importlinter]\nroot_packages =\n    tenants\n    worker\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\n"
        "layers =\n    worker\n    tenants\n"
    )
    package = tmp_path / "src"
    (package / "tenants").mkdir(parents=True)
    (package / "worker").mkdir()
    (package / "tenants" / "__init__.py").write_text("")
    (package / "worker" / "__init__.py").write_text("")
    (package / "tenants" / "bad.py").write_text("import worker\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(config)],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(package), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "tenants.bad -> worker" in result.stdout
