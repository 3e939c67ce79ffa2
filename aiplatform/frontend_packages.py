"""Front-end packages as static files: the few files the pages use, found in ``node_modules/``.

The packages are pinned in ``package.json`` / ``package-lock.json`` and installed by ``make install``
(``npm ci``); nothing is copied into the repository or loaded from a CDN. Only the files listed in
``PACKAGE_FILES`` are served: ``STATICFILES_DIRS`` pointed at ``@picocss/pico/css`` would publish and
collect its 239 colour and class variants (20 MB, two more seconds on every ``collectstatic``, which
``make run`` and every test server run) for the one file the pages link.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.contrib.staticfiles.utils import matches_patterns
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

# Static path (what `{% static %}` names) -> the file of the same name inside node_modules/.
PACKAGE_FILES = {
    "vendor/pico/pico.min.css": "@picocss/pico/css/pico.min.css",
}


def node_modules() -> Path:
    return Path(settings.BASE_DIR) / "node_modules"


class NodePackagesFinder(BaseFinder):
    """Find the files of ``PACKAGE_FILES`` for ``collectstatic`` and the development server."""

    def check(self, **kwargs) -> list[Error]:
        missing = [name for name in PACKAGE_FILES.values() if not (node_modules() / name).is_file()]
        if not missing:
            return []
        return [
            Error(
                f"Front-end package files are missing from node_modules/: {', '.join(missing)}",
                hint="Run `make install` (it runs `npm ci`; install Node.js and npm first).",
                id="switchboard.E001",
            )
        ]

    def find(self, path: str, find_all: bool = False, **kwargs) -> str | list[str]:
        source = PACKAGE_FILES.get(path)
        found = str(node_modules() / source) if source and (node_modules() / source).is_file() else None
        if find_all:
            return [found] if found else []
        return found or []

    def list(self, ignore_patterns) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, source in PACKAGE_FILES.items():
            if matches_patterns(path, ignore_patterns or []):
                continue
            prefix, _, name = path.rpartition("/")
            storage = FileSystemStorage(location=node_modules() / Path(source).parent)
            storage.prefix = prefix  # collectstatic writes the file under this folder
            if storage.exists(name):
                yield name, storage
