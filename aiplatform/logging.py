"""Structured logging: one JSON object per line, carrying the request id.

Standard-library loggers (Django, Celery, uvicorn) are routed through the same
structlog processors, so every line in the output has the same shape.
"""

from __future__ import annotations

import logging.config

import structlog


def configure_logging(*, level: str, fmt: str) -> None:
    """Configure stdlib logging and structlog for the whole process."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        renderer,
                    ],
                    "foreign_pre_chain": shared,
                }
            },
            "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "structured"}},
            "root": {"handlers": ["stdout"], "level": level},
            "loggers": {
                # Our own access line replaces these.
                "django.request": {"level": "ERROR"},
                "django.server": {"level": "WARNING"},
                "uvicorn.access": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
