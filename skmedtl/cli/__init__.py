"""The ``skmedtl`` command line: a thin layer over the public API.

One module per command (:data:`COMMANDS`). A command module defines
``add_parser(subparsers, parents)``, which adds its parser and sets
``run=<function(args) -> exit code>`` and ``flags=<{keyword: Param}>`` as the
parser's defaults (``flags`` turns the library's advice into flags in error
messages). Adding a command is adding its module and its name to
:data:`COMMANDS`, e.g. ``skmedtl/cli/predict.py``::

    from ._base import EXIT_OK, command_parser
    from ._params import REQUIRED, Param, add_params

    PARAMS = [Param("path", "--model", default=REQUIRED, help="...")]

    def add_parser(subparsers, parents):
        p = command_parser(subparsers, "predict", parents, help="...")
        add_params(p, PARAMS)
        p.set_defaults(run=run, flags={q.name: q for q in PARAMS})

    def run(args) -> int:
        from ..somewhere import heavy_work  # imports inside run: --help stays fast
        ...  # raise on bad input: main() turns errors into exit codes
        return EXIT_OK

Every flag is declared in a :class:`~skmedtl.cli._params.Param` table (choices
imported from :mod:`skmedtl._constants`); commands raise, and :func:`main` maps
errors to exit codes.

Nothing heavy is imported before a command runs: ``skmedtl --help`` and
``skmedtl <command> --help`` start without PyTorch.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import warnings

from .. import __version__
from ._base import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Parser
from ._params import to_cli_words

# No ``__all__``: the command line is not part of the Python API reference (its
# own page is docs/user_guide/cli.rst); main, build_parser and EXIT_* are used by
# tests and docs/conf.py.

#: The command modules, in the order ``skmedtl --help`` lists them.
COMMANDS = ("demo", "study", "extract", "backbones", "cache", "predict", "explain")


def build_parser() -> argparse.ArgumentParser:
    """The ``skmedtl`` parser with a subparser per module of :data:`COMMANDS`."""
    parser = Parser(
        prog="skmedtl",
        description="Transfer learning for medical image classification.",
        epilog="Run `skmedtl COMMAND --help` for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"skmedtl {__version__}")
    _add_global_options(parser, default=True)
    # The same options after the command (`skmedtl study ... -v`); SUPPRESS keeps
    # a subparser from resetting what was given before the command.
    common = Parser(add_help=False)
    _add_global_options(common, default=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"{__name__}.{name}")
        module.add_parser(sub, [common])
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: bool) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0 if default else argparse.SUPPRESS,
        help="log more (-v: info, -vv: debug)",
    )
    parser.add_argument(
        "--debug", action="store_true",
        default=False if default else argparse.SUPPRESS,
        help="show the full traceback of an error",
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skmedtl`` command; returns the exit code.

    A mistake in the input (a bad value, a missing file, a missing optional
    dependency) prints ``skmedtl <command>: error: <message>`` in command-line
    words and returns 2, with no traceback (``--debug`` shows it).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if getattr(args, "run", None) is None:  # a command group, e.g. `skmedtl cache`
        args.parser.print_help()
        return EXIT_USAGE
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _warning_printer(args)
            return args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `skmedtl backbones | head`: the reader left; fine
        try:  # no second error when Python flushes stdout at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout is not a file
            pass
        return EXIT_OK
    except Exception as e:
        if args.debug:
            raise
        code = _exit_code(e)
        if code is None:
            raise  # a bug: the traceback helps more than a message
        message = to_cli_words(str(e) or type(e).__name__, args.flags)
        message += _on_error_hint(e, args.flags)
        if code == EXIT_ERROR and not _raised_by_skmedtl(e):
            message += " (run again with --debug for the traceback)"
        print(f"{args.prog}: error: {message}", file=sys.stderr)
        return code


def _on_error_hint(error: Exception, flags: dict) -> str:
    """For an unreadable image, the command's flag that skips such files."""
    from ..io._errors import ImageReadError

    param = flags.get("on_error")
    flag = param if isinstance(param, str) else getattr(param, "flag", None)
    if not isinstance(error, ImageReadError) or flag != "--on-error":
        return ""
    return " Add --on-error skip to leave unreadable files out (with a warning)."


def _warning_printer(args):
    """``warnings.showwarning`` for the command: one line, in flags."""

    def show(message, category, filename, lineno, file=None, line=None):
        text = to_cli_words(str(message), args.flags)
        print(f"{args.prog}: warning: {text}", file=file or sys.stderr)

    return show


def _raised_by_skmedtl(error: BaseException) -> bool:
    """Whether skmedtl itself raised ``error`` (its message then says what to do)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith(
        "skmedtl."
    )


def _exit_code(error: Exception) -> int | None:
    """EXIT_USAGE for the library's user-facing errors, EXIT_ERROR for failures of
    the environment, None for anything else (a bug)."""
    from ..cache._errors import CacheCorruptedError

    user = (ValueError, TypeError, ImportError, FileNotFoundError, FileExistsError,
            NotADirectoryError, IsADirectoryError, PermissionError,
            CacheCorruptedError)
    if isinstance(error, user) or type(error).__name__ == "WeightsUnavailableError":
        return EXIT_USAGE
    if isinstance(error, (RuntimeError, OSError)):
        return EXIT_ERROR
    return None
