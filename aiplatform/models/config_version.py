"""A version number per configuration namespace ("registry", "keys", ...).

Services bump it in the same transaction as the change they make. Gateway processes keep
routes, keys and policies in an in-process cache and poll these numbers about once a
second (Redis when configured, else this table), so a change bites everywhere within a
second without a per-request query.
"""

from __future__ import annotations

from django.db import models


class ConfigVersion(models.Model):
    namespace = models.CharField(max_length=64, primary_key=True)
    version = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.namespace}@{self.version}"
