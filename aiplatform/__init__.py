"""Switchboard's project package and core app (named aiplatform: see README)."""

from aiplatform.celery import app as celery_app

__all__ = ["celery_app"]
