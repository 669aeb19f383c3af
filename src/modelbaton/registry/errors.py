"""Registry failures, each with the HTTP status the API answers it with."""

from __future__ import annotations

from ..contract.errors import BatonError, IntegrityError


class RegistryError(BatonError):
    """A registry request that cannot be carried out as asked."""

    status = 400


class NotFoundError(RegistryError):
    """An unknown model, version, alias, token or user."""

    status = 404


class ConflictError(RegistryError):
    """Refused by the state of things: an illegal transition, a duplicate approval."""

    status = 409


class PolicyError(ConflictError):
    """A promotion the policy does not allow yet; the message lists what is missing."""


class AuthError(RegistryError):
    """No token, an unknown token, or an expired or revoked one."""

    status = 401


class ForbiddenError(RegistryError):
    """The actor's role, or the four-eyes rule, does not allow this."""

    status = 403


class TooLargeError(RegistryError):
    """An upload beyond the server's limit."""

    status = 413


def status_of(exc: BatonError) -> int:
    """The HTTP status for a user-facing failure: never 500."""
    if isinstance(exc, RegistryError):
        return exc.status
    if isinstance(exc, IntegrityError):
        return 422
    return 400


#: Error classes by name, so the HTTP client raises what the server raised.
ERRORS: dict[str, type[BatonError]] = {
    cls.__name__: cls for cls in (RegistryError, NotFoundError, ConflictError, PolicyError,
                                  AuthError, ForbiddenError, TooLargeError, IntegrityError,
                                  BatonError)
}
