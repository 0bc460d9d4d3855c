"""The shared layer's size as Lambda unpacks it: built the way `sam build` builds a python3.13/arm64 layer.

`sam build` (BuildMethod python3.13, BuildArchitecture arm64) copies the layer's source and pip-installs its
`requirements.txt` for the Lambda platform; boto3 and botocore come from the runtime and are not in it. Here the
same: the locked requirements, wheels for manylinux aarch64 / CPython 3.13 only, no dependencies beyond the lock
(it lists them all), plus the `fulfillment` package without bytecode caches. Prints the unzipped size (what counts
against Lambda's 250 MB for function + layers, and the issue's 20 MB budget), the zipped size, and the heaviest
top-level packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "fulfillment"
BUDGET_MB = 20.0


@dataclass
class LayerSize:
    unzipped: int
    zipped: int
    packages: list[tuple[str, int]]  # top-level directory under python/, bytes, largest first


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(layer: Path = LAYER) -> LayerSize:
    with tempfile.TemporaryDirectory(prefix="layer-") as tmp:
        python = Path(tmp) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(python),
                "--platform",
                "manylinux2014_aarch64",
                "--implementation",
                "cp",
                "--python-version",
                "3.13",
                "--only-binary=:all:",
                "--no-deps",
                "--no-compile",  # sam build ships no bytecode either
                "-r",
                str(layer / "requirements.txt"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        shutil.copytree(
            layer / "fulfillment", python / "fulfillment", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        packages = sorted(
            ((p.name, _tree_bytes(p) if p.is_dir() else p.stat().st_size) for p in python.iterdir()),
            key=lambda row: -row[1],
        )
        archive = shutil.make_archive(str(Path(tmp) / "layer"), "zip", root_dir=tmp, base_dir="python")
        return LayerSize(_tree_bytes(python), Path(archive).stat().st_size, packages)


def report(size: LayerSize) -> list[str]:
    mb = size.unzipped / 1e6
    verdict = "within" if mb <= BUDGET_MB else "OVER"
    heaviest = ", ".join(f"{name} {n / 1e6:.1f}" for name, n in size.packages[:5])
    return [
        f"  unzipped {mb:5.1f} MB ({verdict} the {BUDGET_MB:.0f} MB budget)   zipped {size.zipped / 1e6:4.1f} MB",
        f"  heaviest (MB): {heaviest}",
    ]


if __name__ == "__main__":
    print("\n".join(report(build())))
