"""The private bucket of digital goods: short-lived presigned GETs, computed locally (no AWS call)."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config

from fulfillment.config import settings
from fulfillment.domain.entitlements import Entitlement


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 one (RFC 6266 / 5987)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@cache
def presigner() -> Any:
    # SigV4 query signing (X-Amz-Expires), whatever the SDK's default for S3 presigning is.
    return boto3.client("s3", config=Config(signature_version="s3v4", s3={"addressing_style": "auto"}))


def presigned_get(entitlement: Entitlement, seconds: int) -> str:
    bucket = settings().assets_bucket
    if not bucket:
        raise RuntimeError("ASSETS_BUCKET is not configured")
    url: str = presigner().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": entitlement.bucket_key,
            "ResponseContentDisposition": content_disposition(entitlement.filename),
            "ResponseCacheControl": "private, no-store",
        },
        ExpiresIn=min(seconds, 300),
    )
    return url
