"""The shared fulfillment package: pure domain, wire contracts and AWS adapters.

Shipped to Lambda as a layer (`layers/fulfillment/`) and installed editable for tests.
`domain/` never imports boto3; `adapters/` do; `contracts/` are pydantic models of wire formats.
"""
