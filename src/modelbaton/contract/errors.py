"""The one hierarchy of user-facing failures.

Every error a user can cause is a :class:`BatonError`: one line saying what is wrong and
where (file, line, field, row), plus a hint saying what to do next. The CLI prints it and
exits with code 2; it never shows a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import re


class BatonError(Exception):
    """A failure caused by the input, explained in one line."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        message = _one_line(message)
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = _one_line(hint) if hint else hint

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


def _one_line(text: str) -> str:
    """Messages that quote a library's multi-line complaint still print as one line."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


class ManifestError(BatonError):
    """`baton.yaml` cannot be read or does not follow the contract."""


class PackageError(BatonError):
    """A package is missing, incomplete or unusable."""


class IntegrityError(PackageError):
    """A file of a package differs from what its manifest records."""


class UnsafeInputError(BatonError):
    """Refused for safety: pickle without permission, a hostile archive, and the like."""


class FlavorError(BatonError):
    """A model library cannot save, load or run the model."""


class DataError(BatonError):
    """Tabular input that does not fit the interface or cannot be read."""


class MissingExtraError(BatonError):
    """An optional dependency is needed for this feature."""

    def __init__(self, module: str, extra: str):
        super().__init__(
            f"this needs the Python package '{module}', which is not installed",
            hint=f"pip install 'modelbaton[{extra}]'",
        )
