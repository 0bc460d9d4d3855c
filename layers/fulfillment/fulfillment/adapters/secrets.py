"""Signing secrets from Secrets Manager via Powertools Parameters (cached for five minutes)."""

from __future__ import annotations

import json
import os

from aws_lambda_powertools.utilities import parameters

MAX_AGE_SECONDS = 300


def secret_values(env_name: str) -> list[str]:
    """Every accepted secret of the one named by env var `env_name`.

    A secret's value is one secret, or a JSON list of secrets during a rotation (all verify).
    """
    arn = os.environ.get(env_name)
    if not arn:
        return []
    raw = parameters.get_secret(arn, max_age=MAX_AGE_SECONDS)
    raw = raw.decode() if isinstance(raw, bytes) else str(raw)
    if raw.lstrip().startswith("["):
        return [str(s) for s in json.loads(raw) if s]
    return [raw]


def first_secret(env_name: str) -> str:
    values = secret_values(env_name)
    if not values:
        raise RuntimeError(f"secret {env_name} is not configured")
    return values[0]
