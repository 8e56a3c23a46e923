"""Keep patient data out of server logs, tracebacks included.

An exception's message and a traceback's frames can quote what a request carried (a
database driver's "Failing row contains (...)", a validation error's input, a local
variable in a rich traceback). `RedactingFilter` replaces every logged traceback by the
exception's type and the place it was raised; it is installed on the handlers of the root
and uvicorn loggers, so it also covers the "Exception in ASGI application" uvicorn logs.
"""

from __future__ import annotations

import logging
import traceback

_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "clinic")


def describe_exception(exc: BaseException) -> str:
    """Return an exception's type(s) and innermost location, never its message."""
    kinds = [type(exc).__name__]
    cause = exc.__cause__ or exc.__context__
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    if isinstance(orig, BaseException):
        kinds.append(type(orig).__name__)
    elif cause is not None:
        kinds.append(type(cause).__name__)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return " <- ".join(kinds) + where


class RedactingFilter(logging.Filter):
    """Replace a record's traceback by `describe_exception` (type and location only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Strip the traceback and stack of a record; keep the record."""
        if record.exc_info and record.exc_info[1] is not None:
            summary = describe_exception(record.exc_info[1])
            record.msg = f"{record.getMessage()} [{summary}]"
            record.args = None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


_FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Put the redacting filter on the root, uvicorn and clinic loggers and their handlers."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if _FILTER not in target.filters:
                target.addFilter(_FILTER)
