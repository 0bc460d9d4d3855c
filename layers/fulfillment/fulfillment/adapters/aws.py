"""Cached boto3 clients/resources: built on first use (never at import), reused on warm starts."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


def table() -> Any:
    from fulfillment.config import settings

    return dynamodb().Table(settings().table_name)


def ddb_client() -> Any:
    """The resource's client: it (de)serialises plain Python values, transactions included."""
    return dynamodb().meta.client
