"""Cached boto3 clients/resources: built on first use (never at import), reused on warm starts."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:  # the stubs are a development dependency; the Lambda runtime has boto3 only
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@cache
def client(service: str) -> Any:
    # boto3-stubs overloads boto3.client per literal service name; this cache is keyed by a name given at run time.
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def dynamodb() -> DynamoDBServiceResource:
    return boto3.resource("dynamodb", config=_CONFIG)


def table() -> Table:
    from fulfillment.config import settings

    return dynamodb().Table(settings().table_name)


def ddb_client() -> DynamoDBClient:
    """The resource's client: it (de)serialises plain Python values, transactions included."""
    return dynamodb().meta.client
