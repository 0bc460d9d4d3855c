"""Signing secrets from Secrets Manager via Powertools Parameters (cached for five minutes)."""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING

from fulfillment.adapters.aws import client
from fulfillment.config import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

MAX_AGE_SECONDS = 300


@cache
def _provider() -> SecretsProvider:
    """Powertools' provider on our client: its default builds a boto3 session of its own, which loads the endpoint
    rules and service models a second time at every cold start. Imported at the first secret read, not at import:
    most handlers have paths that read none (a queue message, a stream batch without customer events)."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def prepare() -> None:
    """Before a SnapStart snapshot: the provider built (Powertools' parameters imported), no secret read."""
    _provider()


def forget() -> None:
    """Drop every cached secret value (a new provider, on the same client): the next use fetches it again."""
    _provider.cache_clear()


def secret_text(name: str) -> str | None:
    """The stored value of secret `name` (see config.SECRETS), or None when the function has no such secret."""
    arn = settings().secret_arns.get(name)
    if not arn:
        return None
    raw = _provider().get(arn, max_age=MAX_AGE_SECONDS)
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def secret_values(name: str) -> list[str]:
    """Every accepted value of secret `name` (NATIVE, ADMIN, ...; the storefront secrets are fulfillment.shops').

    A secret's value is one secret, or a JSON list of secrets during a rotation (all verify).
    """
    text = secret_text(name)
    if not text:
        return []
    if text.lstrip().startswith("["):
        return [str(s) for s in json.loads(text) if s]
    return [text]


def first_secret(name: str) -> str:
    values = secret_values(name)
    if not values:
        raise RuntimeError(f"secret {name} is not configured")
    return values[0]
