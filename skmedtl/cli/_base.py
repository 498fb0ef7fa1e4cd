"""What every command module uses: exit codes and :func:`command_parser`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Exit codes: success; a failure while running (failed cells, an environment
#: error); a usage error (bad flags or bad input, as argparse uses 2); Ctrl-C.
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors suggest the flag meant by a misspelt one."""

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):
        from ..utils._naming import did_you_mean

        given = getattr(self, "_given", [])
        known = sorted(_long_flags(self, given))
        for token in given:
            flag = token.split("=", 1)[0]
            if flag.startswith("--") and flag not in known:
                hint = did_you_mean(flag, known)
                if hint:
                    message += f" (unknown flag {flag!r}.{hint})"
                    break
        super().error(message)


def _long_flags(parser: argparse.ArgumentParser, given: list[str]) -> set[str]:
    """The ``--flags`` of the (sub)command ``given`` names: unknown flags of a
    command are reported by the top-level parser."""
    for token in given:
        subparsers = [
            a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
        ]
        if subparsers and token in subparsers[0].choices:
            parser = subparsers[0].choices[token]
    return {o for o in parser._option_string_actions if o.startswith("--")}


def command_parser(
    subparsers, name: str, parents: list, **kwargs
) -> argparse.ArgumentParser:
    """``subparsers.add_parser(name, ...)`` with the defaults ``main`` reads.

    The caller sets ``run`` (and ``flags``) with ``parser.set_defaults``.
    """
    parser = subparsers.add_parser(name, parents=parents, **kwargs)
    parser.set_defaults(prog=parser.prog, parser=parser, flags={}, run=None)
    return parser


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (links resolved)."""
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def check_writable(flag: str, folder: Path, value: object = None) -> None:
    """The folder (or its nearest existing parent) accepts new files.

    ``value`` is what the user gave ``flag`` (default: ``folder``).
    """
    value = folder if value is None else value
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing.exists() and not existing.is_dir():
        raise NotADirectoryError(
            f"{flag} {value}: {existing} is a file, so the folder cannot be created."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"{flag} {value}: cannot write in {existing} (permission denied). "
            f"Choose a folder you can write to for {flag}."
        )
