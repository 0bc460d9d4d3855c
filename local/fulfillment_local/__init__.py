"""Local development tooling: the template-driven runtime, simulated peers and the demo.

Nothing here ships in the Lambda layer.
"""
