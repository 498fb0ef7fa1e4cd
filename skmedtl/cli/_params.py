"""Command-line flags declared once: a table of :class:`Param` per command.

Each :class:`Param` names a keyword argument of the library (``TransferStudy``,
``CNNFeatures``, ...) and says how the command line spells it. From one table
come the argparse flags (:func:`add_params`), the keyword arguments handed to
the library (:func:`kwargs_from`) and the translation of the library's error
messages into flags (:func:`to_cli_words`): an error that recommends
``on_error='skip'`` reads ``--on-error skip`` on the command line.

Only the standard library is imported here: ``skmedtl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

__all__ = [
    "REQUIRED",
    "Param",
    "add_params",
    "choice",
    "comma_list",
    "extensions",
    "float_list",
    "int_or",
    "kwargs_from",
    "pick",
    "positive_int",
    "regex",
    "to_cli_words",
    "weights",
]


@dataclass(frozen=True)
class Param:
    """One keyword argument of the library, as a command-line flag.

    Attributes
    ----------
    name : str
        The keyword argument (``"cache_path"``).
    flag : str
        Its flag (``"--cache"``), or a bare word for a positional argument
        (``"path"``).
    help : str
        One line for ``--help``.
    type : callable, optional
        argparse ``type``: parses (and checks) the text.
    default : object
        The library's default; the flag's value when it is not given (through
        ``convert``). :data:`REQUIRED` for a required flag.
    metavar : str, optional
    action : str, optional
        ``"store_true"`` for a switch.
    convert : callable, optional
        Flag value -> keyword value (``--keep-going`` -> ``on_error="skip"``).
    short : str, optional
        A short form (``"-q"``).
    nargs : str, optional
        argparse ``nargs`` (``"+"``: one or more values).
    """

    name: str
    flag: str
    help: str
    type: Callable | None = None
    default: object = None
    metavar: str | None = None
    action: str | None = None
    convert: Callable | None = None
    short: str | None = None
    nargs: str | None = None

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def positional(self) -> bool:
        """A positional argument: its ``flag`` is a bare word (``"path"``)."""
        return not self.flag.startswith("-")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def value(self, args: argparse.Namespace):
        """The keyword value for parsed ``args``."""
        raw = getattr(args, self.dest)
        return raw if self.convert is None else self.convert(raw)


#: The default of a required flag.
REQUIRED = object()


def add_params(parser: argparse.ArgumentParser, params: Iterable[Param]) -> None:
    """Add a flag per :class:`Param` to ``parser``."""
    for p in params:
        if p.positional:  # argparse takes its name as the dest
            kwargs = {"help": p.help, "type": p.type, "metavar": p.metavar}
            if p.nargs is not None:
                kwargs["nargs"] = p.nargs
            if not p.required:
                kwargs["default"] = p.default
            parser.add_argument(p.flag, **kwargs)
            continue
        names = [p.short, p.flag] if p.short else [p.flag]
        kwargs: dict = {"dest": p.dest, "help": p.help}
        if p.action is not None:
            kwargs["action"] = p.action
            if p.action == "append":  # a repeatable flag
                kwargs.update(metavar=p.metavar, default=p.default)
        else:
            kwargs["type"] = p.type
            kwargs["metavar"] = p.metavar
            if p.nargs is not None:
                kwargs["nargs"] = p.nargs
            if p.required:
                kwargs["required"] = True
            else:
                kwargs["default"] = p.default
        parser.add_argument(*names, **kwargs)


def kwargs_from(args: argparse.Namespace, params: Iterable[Param]) -> dict:
    """The library's keyword arguments from parsed ``args``, one per :class:`Param`."""
    return {p.name: p.value(args) for p in params}


def pick(params: Sequence[Param], *names: str, **changes: dict) -> list[Param]:
    """The named params of a table (in the order given), with field ``changes``.

    ``pick(STUDY, "device", out_dir={"default": "demo"})`` reuses a row and its
    help in another command.
    """
    by_name = {p.name: p for p in params}
    unknown = [n for n in [*names, *changes] if n not in by_name]
    if unknown:  # a programming error in a command module
        raise KeyError(f"No such params: {unknown}")
    out = [by_name[n] for n in names]
    out += [replace(by_name[n], **c) for n, c in changes.items()]
    return out


# -- translating the library's words ------------------------------------------------
_ASSIGNMENT = re.compile(
    r"(?<![\w.])(?P<name>[a-z_][a-z0-9_]*)="
    r"(?P<value>'[^']*'|\"[^\"]*\"|\[\.\.\.\]|\[[^\]]*\]|[\w+-]+(?:\.[\w+-]+)*)?"
)


def to_cli_words(message: str, flags: dict[str, Param | str]) -> str:
    """Rewrite the Python options a library message recommends as flags.

    ``name=value`` becomes ``--flag value`` for every ``name`` in ``flags``
    (``extensions=[...]`` -> ``--extensions EXT,EXT``, ``weights=None`` ->
    ``--weights none``), and a bare ``name`` with an underscore (``batch_size``)
    becomes ``--flag``; a name followed by its own flag in brackets
    (``train_sizes (--train-sizes)``) becomes the flag once. Names the command has
    no flag for stay as they are.

    Parameters
    ----------
    message : str
    flags : dict
        Keyword name -> :class:`Param` (or a flag string).
    """

    def flag_of(name: str) -> tuple[str, str | None] | None:
        p = flags.get(name)
        if p is None:
            return None
        return (p, None) if isinstance(p, str) else (p.flag, p.metavar)

    def assignment(m: re.Match) -> str:
        found = flag_of(m["name"])
        if found is None:
            return m[0]
        flag, metavar = found
        value = m["value"]
        if value is None:  # "give backbone= or older_than=": the flag alone
            return flag
        if value.startswith("[") and value.endswith("]"):
            items = re.findall(r"'([^']*)'|\"([^\"]*)\"", value)
            value = ",".join(a or b for a, b in items) or metavar or "..."
        else:
            value = value.strip("'\"")
        if value == "None":
            value = "none"
        if value in ("True", "False"):  # a switch: the flag alone
            return flag
        return f"{flag} {value}"

    for python, cli in PYTHON_ONLY.items():
        message = message.replace(python, cli)
    message = _ASSIGNMENT.sub(assignment, message)
    for name in sorted(flags, key=len, reverse=True):
        flag = flag_of(name)[0]
        # "train_sizes (--train-sizes) must ...": the keyword with its flag
        # beside it reads as the flag alone.
        message = re.sub(
            rf"(?<![\w./\\-]){re.escape(name)} \({re.escape(flag)}\)", flag, message
        )
        # A bare name: one with an underscore anywhere (batch_size), a plain word
        # only where it is clearly the parameter ("lrs must be", "groups / ...").
        # Never part of a path, an attribute or a longer name.
        after = r"(?![\w/\\(])" if "_" in name else _PLAIN_WORD_PARAMETER
        message = re.sub(rf"(?<![\w./\\-]){re.escape(name)}{after}", flag, message)
    return message


_PLAIN_WORD_PARAMETER = r"(?= must | is empty| / | or --|, --)"

#: Python-only advice in library messages -> what the command line offers.
PYTHON_ONLY = {
    "skmedtl.list_backbones()": "`skmedtl backbones`",
    "skmedtl.backbones.list_schemes()": "`skmedtl backbones`",
    " (skmedtl.backbones.WeightsFile to give its mean/std)": "",
}


# -- argparse types ---------------------------------------------------------------
def comma_list(text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def float_list(text: str) -> list[float]:
    """``"1e-3,1e-4"`` -> ``[0.001, 0.0001]``."""
    try:
        return [float(t) for t in comma_list(text)]
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, e.g. 1e-3,1e-4; got {text!r}"
        ) from e


def _positive(text: str) -> int | None:
    """``text`` as an integer >= 1 (None: it is not one)."""
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = _positive(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def int_or(word: str, what: str) -> Callable[[str], int | str]:
    """An argparse type: a positive integer, or the keyword ``word``."""

    def parse(text: str):
        if text == word:
            return text
        value = _positive(text)
        if value is None:
            raise argparse.ArgumentTypeError(
                f"expected {what} or {word!r}; got {text!r}"
            )
        return value

    parse.__name__ = f"int_or_{word}"
    return parse


def choice(values: Iterable[str]) -> Callable[[str], str]:
    """An argparse type: one of ``values``, with "did you mean" for a typo."""
    values = tuple(values)

    def parse(text: str) -> str:
        if text in values:
            return text
        from ..utils._naming import did_you_mean

        raise argparse.ArgumentTypeError(
            f"unknown value {text!r}.{did_you_mean(text, values)} Choose from "
            f"{', '.join(values)}."
        )

    parse.__name__ = "choice"
    return parse


def regex(text: str) -> str:
    """A regular expression, checked now (before any data is read)."""
    try:
        re.compile(text)
    except re.error as e:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a valid regular expression: {e}. Example: "
            "'patient(\\d+)_' takes the digits after 'patient' as the group id."
        ) from e
    return text


def weights(text: str) -> str | None:
    """``"none"`` / ``"random"`` -> ``None`` (random weights); else as given."""
    return None if text.lower() in ("none", "random") else text


def extensions(text: str) -> list[str]:
    """``".png,dcm"`` -> ``[".png", ".dcm"]``."""
    return [e if e.startswith(".") else "." + e for e in comma_list(text)]
