"""Codecs: items of the single table <-> domain objects. One module per entity; keys come from `keys.py`."""
