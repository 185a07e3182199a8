"""Copy the browser assets regulars serves from the installed npm packages into the
Python package, with their licences (``make vendor``; the copies are committed).

The versions are pinned in ``package.json`` and ``package-lock.json``: ``npm ci`` installs
exactly them, this script copies what the app serves. Nothing is ever loaded from a CDN.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "node_modules"
TARGET = HERE.parent  # the repository root

ASSETS: dict[str, tuple[str, tuple[str, ...]]] = {
    # package: (destination under the repository root, files)
    "swagger-ui-dist": (
        "src/regulars/api/static/swagger-ui",
        (
            "swagger-ui-bundle.js",
            "swagger-ui-bundle.js.LICENSE.txt",
            "swagger-ui.css",
            "favicon-32x32.png",
            "LICENSE",
            "NOTICE",
        ),
    ),
    # The web app's partial page updates (regulars.web).
    "htmx.org": ("src/regulars/web/static/vendor/htmx", ("dist/htmx.min.js", "LICENSE")),
    # The accessibility checker the browser tests inject into every page (tests only).
    "axe-core": ("tests/web/assets/axe-core", ("axe.min.js", "LICENSE", "LICENSE-3RD-PARTY.txt")),
}


def copy_package(package: str, destination: str, files: tuple[str, ...]) -> None:
    source = SOURCE / package
    if not source.is_dir():
        sys.exit(f"{source} is missing: run `npm ci` in {HERE} first")
    target = TARGET / destination
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in files:
        shutil.copyfile(source / name, target / Path(name).name)
    version = json.loads((source / "package.json").read_text(encoding="utf-8"))["version"]
    (target / "VERSION").write_text(f"{package} {version} (npm)\n", encoding="utf-8")
    print(f"{package} {version} -> {target.relative_to(HERE.parent)}")


def main() -> None:
    for package, (destination, files) in ASSETS.items():
        copy_package(package, destination, files)


if __name__ == "__main__":
    main()
