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

from regulars import limits
from regulars.api import create_app
from regulars.api.app import MAX_BODY_SIZE, MAX_BULK_BODY_SIZE
from regulars.api.openapi import DEFAULT_LIMIT, MAX_LIMIT
from regulars.api.schemas.bulk import MAX_BULK_ITEMS
from regulars.store.session import make_engine

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


# --------------------------------------------------------------- documented limits
API_DOC = ROOT / "docs" / "api.md"
LIMIT_MENTION = re.compile(r"`limit` \((\d+)–(\d+), default (\d+)\)")
ENDPOINT = re.compile(r"^#+ `(GET|POST|PUT|PATCH|DELETE) (/v1/[^`\s]+)`")


def _limit_params() -> dict[tuple[str, str], tuple[int, int, int]]:
    """(METHOD, path) → (minimum, maximum, default) of each endpoint's ``limit``."""
    spec = create_app(make_engine("sqlite://")).openapi()
    found = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for param in operation.get("parameters", []):
                if param["name"] == "limit":
                    schema = param["schema"]
                    key = (method.upper(), path)
                    found[key] = (schema["minimum"], schema["maximum"], schema["default"])
    return found


def test_every_documented_page_limit_is_the_enforced_one() -> None:
    """``limit (1–N, default D)`` under an endpoint's heading is that endpoint's schema; the
    general statement is every list endpoint's."""
    params = _limit_params()
    assert params, "no list endpoint found"
    endpoint = None
    mentions = 0
    for line in API_DOC.read_text(encoding="utf-8").splitlines():
        heading = ENDPOINT.match(line)
        if heading or line.startswith("#"):
            endpoint = (heading.group(1), heading.group(2)) if heading else None
        for found in LIMIT_MENTION.finditer(line):
            mentions += 1
            documented = tuple(int(n) for n in found.groups())
            expected = {params[endpoint]} if endpoint in params else set(params.values())
            assert expected == {documented}, f"{endpoint or 'api.md'}: {line.strip()}"
    assert mentions >= 2


def test_the_limits_table_is_the_code() -> None:
    """Every number of the "Limits" section of api.md is a constant the code enforces."""
    text = API_DOC.read_text(encoding="utf-8")
    section = text.split("\n## Limits\n", 1)[1].split("\n## ", 1)[0]
    expected = [
        f"`{limits.EARLIEST:%Y-%m-%dT%H:%M:%SZ}`",
        f"`{limits.LATEST:%Y-%m-%dT%H:%M:%SZ}`",
        f"`±{limits.MAX_OFFSET_MINUTES // 60:02d}:{limits.MAX_OFFSET_MINUTES % 60:02d}`",
        f"`{limits.EARLIEST:%Y-%m-%d}`",
        f"`{limits.LATEST:%Y-%m-%d}`",
        f"`{limits.MAX_MONEY}`",
        f"`{10**12}`",
        f"`1`–`{MAX_LIMIT}`, default `{DEFAULT_LIMIT}`",
        f"`{MAX_BULK_ITEMS}`",
        f"`{MAX_BODY_SIZE}`",
        f"`{MAX_BULK_BODY_SIZE}`",
    ]
    for value in expected:
        assert value in section, value
