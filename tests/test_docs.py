"""The docs stand alone and agree with the code: relative links resolve, code fences
close, Python examples parse, and every dotted ``regulars.…`` name they mention exists —
in the docs and in the docstrings and comments of the code."""

from __future__ import annotations

import ast
import importlib
import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(\s*)(```+|~~~+)(.*)$")
DOTTED = re.compile(r"[`~](regulars(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
SOURCES = sorted((ROOT / "src" / "regulars").rglob("*.py"))


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


def _fences(text: str, name: str) -> list[tuple[str, str]]:
    """(info string, body) of every fenced block; fails on a fence that never closes."""
    blocks: list[tuple[str, str]] = []
    opened: tuple[str, str, list[str]] | None = None
    for line in text.splitlines():
        found = FENCE.match(line)
        if opened is None:
            if found:
                opened = (found.group(2), found.group(3).strip(), [])
        elif found and found.group(2).startswith(opened[0]) and not found.group(3).strip():
            blocks.append((opened[1], "\n".join(opened[2])))
            opened = None
        else:
            opened[2].append(line)
    assert opened is None, f"{name}: a {opened[0]}{opened[1]} fence never closes"
    return blocks


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_relative_links_resolve(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if "://" in target or target.startswith(("#", "mailto:")):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{doc.name}: link to {target}"
        assert ROOT in path.parents, f"{doc.name}: {target} points outside the project"


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_code_fences_close_and_python_parses(doc: Path) -> None:
    for info, body in _fences(doc.read_text(encoding="utf-8"), doc.name):
        if info in ("python", "py"):
            ast.parse(textwrap.dedent(body))


FILE_SUFFIXES = ("toml", "db", "json", "secret")
"""``regulars.toml`` and friends are files, not code."""


def _has(found: object, name: str) -> bool:
    """An attribute, or a field of a dataclass or pydantic model (no class attribute)."""
    fields = {**getattr(found, "__dataclass_fields__", {}), **getattr(found, "model_fields", {})}
    return hasattr(found, name) or name in fields


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[-1] in FILE_SUFFIXES:
        return True
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not _has(found, name):
                return False
            found = getattr(found, name, None)
        return True
    return False


@pytest.mark.parametrize("doc", DOCS, ids=_ids(DOCS))
def test_named_code_exists(doc: Path) -> None:
    """``regulars.store.tables.Order`` in a doc must be importable: a moved or renamed
    module shows up here, not in a reader's notebook."""
    names = sorted(set(DOTTED.findall(doc.read_text(encoding="utf-8"))))
    assert [name for name in names if not _resolves(name)] == []


def test_docstrings_name_existing_code() -> None:
    """The same for ``regulars.…`` names quoted in the source's docstrings and comments."""
    missing = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in SOURCES
        for name in sorted(set(DOTTED.findall(path.read_text(encoding="utf-8"))))
        if not _resolves(name)
    ]
    assert missing == []


def test_docs_never_cite_the_shared_spec() -> None:
    for doc in DOCS:
        assert "../shared" not in doc.read_text(encoding="utf-8"), doc.name


MENTIONED_MD = re.compile(r"(?<![\w/.-])(?:[\w.-]+/)*([\w-]+\.md)\b")
GENERATED_MD = {"api_load.md"}
"""Markdown files the code writes (a benchmark's result), not documents to cite."""


def test_every_cited_document_is_in_the_repository() -> None:
    """A document named anywhere — ``PRODUCT.md's example``, ``see docs/models.md`` — must
    be one a reader can open here, not a file that lives elsewhere."""
    present = {p.name for p in [*ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")]}
    tests = [p for p in sorted((ROOT / "tests").rglob("*.py")) if p.name != "test_docs.py"]
    texts = [*DOCS, *SOURCES, *tests]
    missing = sorted(
        f"{path.relative_to(ROOT)}: {name}"
        for path in texts
        for name in set(MENTIONED_MD.findall(path.read_text(encoding="utf-8")))
        if name not in present | GENERATED_MD
    )
    assert missing == []
