"""Data that ships in Debian packages (the Bible texts of translation, the Asterisk prompts of speech).

lstmkit never downloads at run time: the user fetches a package once (``apt-get download PKG && dpkg -x
PKG_*.deb DIR``, or installs it) and lstmkit finds its files. :func:`find_package_data` looks, in
order, under the folder the user named (``--<name>-root DIR``), under ``$LSTMKIT_<NAME>_ROOT``, under
lstmkit's cache folder and under ``/`` (an installed package), each either as a ``dpkg -x`` folder
(the data below ``subdir``) or as the data folder itself.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from lstmkit.errors import InputFileError

__all__ = ["find_package_data", "how_to_get"]


def how_to_get(packages: list[str], what: str, option: str, env: str) -> str:
    """The sentence that tells a user how to get ``packages`` (said when they are not found)."""
    names = " ".join(packages)
    extract = " && ".join(f"dpkg -x {p}_*.deb DIR" for p in packages)
    return (f"{what} {'is' if len(packages) == 1 else 'are'} read from the Debian package(s) {', '.join(packages)}, "
            f"which lstmkit never downloads at run time; get {'it' if len(packages) == 1 else 'them'} with "
            f"`apt-get download {names} && {extract}`, then pass {option} DIR (or set {env}=DIR); "
            f"`apt-get install {names}` works too")


def find_package_data(given: str | os.PathLike | None, *, subdir: str, looks_right: Callable[[Path], bool],
                      holds: str, option: str, env: str, cache_name: str, get: str) -> Path:
    """The data folder of a Debian package: ``<root>/<subdir>`` or ``<root>`` itself, for the first root
    (``given``, ``$env``, ``<cache>/<cache_name>``, ``/``) where ``looks_right(folder)`` holds.
    ``given`` that holds no such folder is refused naming ``option`` and what it lacks (``holds``);
    none at all, with ``get``."""
    from lstmkit.data.datasets import cache_dir

    def data_dir(root: Path) -> Path | None:
        for candidate in (root / subdir, root):
            if looks_right(candidate):
                return candidate
        return None

    if given is not None:
        found = data_dir(Path(given))
        if found is None:
            raise InputFileError(f"{option} {given} holds no {holds}; " + get)
        return found
    for root in (os.environ.get(env), cache_dir() / cache_name, "/"):
        if root and (found := data_dir(Path(root))) is not None:
            return found
    raise InputFileError(get)
