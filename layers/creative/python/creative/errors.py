"""Domain errors. The API maps them to HTTP status codes in one place (`creative.api_errors`)."""


class CreativeError(Exception):
    """Base of every error the domain raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or {}


class InvalidRequest(CreativeError):
    code = "invalid_request"


class NotFound(CreativeError):
    code = "not_found"


class Conflict(CreativeError):
    code = "conflict"


class TransientError(CreativeError):
    """Worth retrying (throttling, a 5xx from a dependency): event handlers re-raise it."""

    code = "unavailable"


class CorruptModel(CreativeError):
    """A model artifact that fails its hash, cannot be loaded, or disagrees with what was trained."""

    code = "corrupt_model"
