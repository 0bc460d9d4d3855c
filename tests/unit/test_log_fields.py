"""Log calls never pass a field the standard library reserves (a `created=` or `name=` extra raises KeyError in
`makeRecord`: a 500 after the write, seen in the demo). Checked over every handler and the shared package."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESERVED = set(vars(logging.LogRecord("n", 0, "p", 0, "m", None, None))) | {"message", "asctime"}
METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


def test_no_log_call_passes_a_reserved_log_record_field() -> None:
    offenders = []
    files = [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/fulfillment/fulfillment/**/*.py")]
    assert len(files) > 40
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in METHODS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "logger"
            ):
                offenders += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {kw.arg}=" for kw in node.keywords if kw.arg in RESERVED
                ]
    assert offenders == []
