"""docs/cli.md is the CLI as ``--help`` shows it: regenerated here and compared (tools/cli_reference.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _reference():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_cli_md_is_up_to_date():
    page = _reference().render()
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert page == committed, "docs/cli.md is stale: run python tools/cli_reference.py --write and commit it"


def test_the_reference_holds_every_command_wherever_it_is_defined():
    from typer.main import get_command

    from consentry.adapters.cli.main import app

    page = _reference().render()
    root = get_command(app)
    for name, cmd in root.commands.items():
        assert f"## `consentry {name}`" in page
        for sub in getattr(cmd, "commands", {}):
            assert f"## `consentry {name} {sub}`" in page
    # `works` gathers commands defined in three modules (cli/main.py, cli/audit.py, cli/check.py)
    for sub in ("list", "show", "remove", "set", "melodies"):
        assert f"- [`consentry works {sub}`]" in page
