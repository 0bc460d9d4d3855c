"""The unit tier stands on its own: no AWS emulator, fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_unit_tier_imports_no_aws_emulator() -> None:
    # The property tests (hypothesis, the slowest file) are imported, not run again: the suite runs them.
    probe = (
        "import sys, pytest; import tests.unit.test_properties; "
        "code = pytest.main(['-q', '-p', 'no:cacheprovider', 'tests/unit', '-k', 'not imports_no_aws_emulator', "
        "'--ignore', 'tests/unit/test_properties.py']); "
        "assert code == 0, code; "
        "assert 'moto' not in sys.modules, 'the unit tier imported moto'; print('unit tier ok without moto')"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "unit tier ok without moto" in result.stdout
