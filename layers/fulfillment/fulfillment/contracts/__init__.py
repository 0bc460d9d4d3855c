"""Pydantic models of every wire format: storefront webhooks, queue messages, API responses."""
