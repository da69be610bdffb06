"""Notebook parameters: what each report notebook's ``parameters`` cell declares, and
``name=value`` settings from the command line (``kpitools report -p trailing=6``).

A parameter is an assignment in the cell tagged ``parameters``; the comment lines right
above it are its help, and its value is its default. A setting is converted to the kind
of that default (a whole number, a number, true/false, a list, text), so a notebook gets
the same kind of value it was written for.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError

__all__ = ["Parameter", "RUNNER_SETS", "declared", "notebook_parameters", "parse_settings", "describe"]

# set by the runner for every notebook (--period, --data, --mapping); not settable with -p
RUNNER_SETS = ("period", "data_dir", "mapping")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class Parameter:
    """A parameter some report notebooks declare: its default, its help (the comment
    above it in the first notebook that declares it) and the notebooks that take it."""

    name: str
    default: object
    help: str
    notebooks: tuple[str, ...]


def declared(path: Path) -> dict[str, tuple[object, str]]:
    """``{name: (default, help)}`` of a notebook's ``parameters`` cell, in its order (a
    notebook without one declares nothing)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])),
                None)
    if cell is None:
        return {}
    lines = cell.source.splitlines()
    out: dict[str, tuple[object, str]] = {}
    for node in ast.parse(cell.source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            continue  # computed from other parameters: not settable on its own
        comments: list[str] = []
        row = node.lineno - 2
        while row >= 0 and lines[row].lstrip().startswith("#"):
            comments.insert(0, lines[row].lstrip()[1:].strip())
            row -= 1
        text = " ".join(comments)
        out[node.targets[0].id] = (default, "" if text.lower().startswith("parameters:") else text)
    return out


def notebook_parameters(notebooks: Iterable[Path]) -> dict[str, Parameter]:
    """Every settable parameter of these notebooks, in the order first declared."""
    found: dict[str, Parameter] = {}
    for path in notebooks:
        for name, (default, help_) in declared(path).items():
            if name in RUNNER_SETS:
                continue
            if name in found:
                p = found[name]
                found[name] = Parameter(name, p.default, p.help or help_, (*p.notebooks, path.stem))
            else:
                found[name] = Parameter(name, default, help_, (path.stem,))
    return found


def _convert(text: str, default: object, name: str) -> object:
    kind = type(default)
    try:
        if kind is bool:
            word = text.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError
            return word in _TRUE
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
        if kind in (list, tuple):
            if text.lstrip().startswith("["):
                value = ast.literal_eval(text)
                if not isinstance(value, list):
                    raise ValueError
                return value
            return [part.strip() for part in text.split(",") if part.strip()]
        if kind is dict:
            value = ast.literal_eval(text)
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (ValueError, SyntaxError):
        what = {bool: "true or false", int: "a whole number", float: "a number",
                list: "a comma-separated list", tuple: "a comma-separated list",
                dict: "a Python dict literal"}[kind]
        raise ParameterError(f"-p {name}={text}: {name} takes {what} (its default is {default!r})") from None
    return text


def parse_settings(settings: Sequence[str], known: dict[str, Parameter]) -> dict[str, object]:
    """``["name=value", ...]`` as ``{name: value}``, each value of its default's kind.

    Raises
    ------
    ParameterError
        A setting that is not ``name=value``, a name no notebook declares (the known
        names are listed), or a value not of the default's kind.
    """
    out: dict[str, object] = {}
    for setting in settings:
        name, sep, text = setting.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"-p {setting}: expected name=value, e.g. -p trailing=6")
        if name in RUNNER_SETS:
            option = {"data_dir": "--data"}.get(name, f"--{name}")
            raise ParameterError(f"-p {setting}: {name} is set with {option}")
        if name not in known:
            raise ParameterError(f"-p {setting}: no report notebook has a parameter {name!r} "
                                 f"(they have: {', '.join(known) or 'none'})")
        out[name] = _convert(text, known[name].default, name)
    return out


def describe(known: dict[str, Parameter], width: int = 78) -> str:
    """The parameters as a help section: name, default, help and the notebooks."""
    lines = ["notebook parameters (set with -p name=value; repeat -p for several):"]
    for p in known.values():
        lines.append(f"  {p.name} (default {p.default!r}; {', '.join(p.notebooks)})")
        if p.help:
            lines += textwrap.wrap(p.help, width, initial_indent="      ", subsequent_indent="      ")
    return "\n".join(lines)
