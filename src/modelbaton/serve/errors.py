"""The one error an endpoint raises: an HTTP status and a one-line message.

Rendered as ``{"error": message, "id": request_id, "problems": [...]}``, the shape the
Open Inference Protocol asks for, on every endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..data.schema import Problem


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, problems: Sequence[Problem] = (),
                 headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = list(problems)
        self.headers = dict(headers or {})


def invalid(problems: Sequence[Problem], what: str = "input") -> ApiError:
    """A 422 naming the first problem's row and field, and how many more there are."""
    more = len(problems) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return ApiError(422, f"{what}: {problems[0]}{tail}", problems=problems)


def problem_json(problem: Problem) -> dict[str, object]:
    return {"row": problem.row, "field": problem.field, "kind": problem.kind,
            "message": problem.message}
