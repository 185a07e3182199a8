"""Every command's ``--help`` shows its help text literally.

Typer renders help with Rich, whose markup reads ``[rules]`` or ``[default: 7]`` as a
style tag and drops it; such text is written ``\\[rules]`` in the source. This walks the
whole command tree, so a new command cannot forget it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from regulars.cli import app

# Wide enough that Rich neither wraps nor truncates an option's help.
WIDE = {"COLUMNS": "400"}
BRACKETED = re.compile(r"\[[^\[\]]*\]")
BOX = re.compile(r"[│╭╮╰╯─]")


def _commands(
    command: TyperCommand | TyperGroup, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], TyperCommand | TyperGroup]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            assert isinstance(sub, TyperCommand | TyperGroup)
            yield from _commands(sub, (*path, name))


def _help_texts(command: TyperCommand | TyperGroup) -> list[str]:
    """The command's own help and its parameters' help, as the user should read them."""
    texts = [command.help or ""]
    texts += [getattr(param, "help", None) or "" for param in command.params]
    return [text.replace("\\[", "[") for text in texts]


def _flat(text: str) -> str:
    return " ".join(BOX.sub(" ", text).split())


ROOT = typer.main.get_command(app)
assert isinstance(ROOT, TyperGroup)
COMMANDS = dict(_commands(ROOT))


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "regulars")
def test_help_shows_bracketed_text(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env=WIDE)
    assert result.exit_code == 0, result.output
    shown = _flat(result.output)
    expected = [_flat(m) for t in _help_texts(COMMANDS[path]) for m in BRACKETED.findall(t)]
    missing = [text for text in expected if text not in shown]
    assert not missing, f"Rich markup ate {missing}: write them as \\[…] in the help"
    assert "\\[" not in shown, "a \\[ that Rich did not need shows up in the help"


def test_the_walk_reaches_nested_commands() -> None:
    assert ("loyalty", "simulate") in COMMANDS
    assert ("jobs", "retry") in COMMANDS
    assert len(COMMANDS) > 30
