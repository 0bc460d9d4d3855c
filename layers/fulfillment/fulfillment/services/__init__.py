"""Services by use case. Each step loads what it needs, asks the aggregates to decide, and commits once."""
