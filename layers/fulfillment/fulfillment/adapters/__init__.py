"""Adapters: the only modules that talk to AWS (boto3). Clients are built lazily and cached."""
