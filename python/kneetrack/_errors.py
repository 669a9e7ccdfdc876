"""Exceptions raised by kneetrack.

Every message is the one the ``kneetrack`` command line prints after ``error:`` for the
same input; the fields carry its parts so code can act on them.
"""

from __future__ import annotations

from typing import Optional, Union

__all__ = ["KneetrackError", "ScenarioError", "SweepError", "OpenSimError"]


class KneetrackError(Exception):
    """Base class of kneetrack's exceptions (also raised for an internal error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message: str = message

    def __str__(self) -> str:
        return self.message


class ScenarioError(KneetrackError, ValueError):
    """A scenario that cannot be used: the command line's exit code 2.

    Attributes (``None`` where the error has no such part):
        file: the scenario file (or the name given to :meth:`Scenario.from_toml`).
        line: 1-based line in that file's text (overrides written in).
        column: 1-based column (TOML syntax and type errors).
        key: the dotted key, e.g. ``"muscles.vmo"``.
        value: the offending value (a number for range errors).
        min, max: the allowed range, in ``unit``.
        unit: the unit of ``value``, ``min`` and ``max`` (e.g. ``"degrees"``; ``""`` for a
            fraction).
        reason: the message without file and line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[int] = None,
        key: Optional[str] = None,
        value: Union[float, str, None] = None,
        min: Optional[float] = None,  # noqa: A002 - the range's name in the CLI message
        max: Optional[float] = None,  # noqa: A002
        unit: Optional[str] = None,
        reason: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.value = value
        self.min = min
        self.max = max
        self.unit = unit
        self.reason = reason

    @property
    def range(self) -> Optional[tuple]:
        """``(min, max)`` for a value out of range, else ``None``."""
        if self.min is None or self.max is None:
            return None
        return (self.min, self.max)


class SweepError(ScenarioError):
    """A sweep file (or its base scenario's axis values) that cannot be run."""


class OpenSimError(KneetrackError, ValueError):
    """An OpenSim Storage file (.mot/.sto) the library's reader refuses.

    Attributes:
        file: the file.
        line: 1-based line, where the error has one.
        column: the column label concerned, where the error has one.
    """

    def __init__(
        self,
        message: str,
        *,
        file: Optional[str] = None,
        line: Optional[int] = None,
        column: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.column = column
