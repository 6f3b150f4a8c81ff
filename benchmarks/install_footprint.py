"""What `pip install glm-harness` costs, core beside extras: builds the wheel, installs it into one
fresh venv per variant, and prints the seconds pip took and the megabytes it added to the venv.

    .venv/bin/python benchmarks/install_footprint.py [--variants ",[bench],[all]"]

pip's cache is used as configured (warm after the first run: the figures then measure unpacking
and installing, not downloading). Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin"


def _wheel(folder: Path) -> Path:
    builder = _venv(folder / "build-venv")
    subprocess.run([str(builder / "pip"), "wheel", "--no-deps", "-q", "-w", str(folder / "dist"), str(REPO)],
                   check=True)
    (wheel,) = (folder / "dist").glob("glm_harness-*.whl")
    return wheel


def measure(wheel: Path, variant: str, folder: Path) -> tuple[float, float, int]:
    venv = folder / f"venv{variant or '-core'}"
    bin_ = _venv(venv)
    before = _size_mb(venv)
    started = time.perf_counter()
    subprocess.run([str(bin_ / "pip"), "install", "-q", f"{wheel}{variant}"], check=True)
    seconds = time.perf_counter() - started
    listed = subprocess.run([str(bin_ / "pip"), "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout.split()
    return seconds, _size_mb(venv) - before, len(listed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", default=",[all]", help="extras, comma-separated ('' is the core)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="glm-install-") as tmp:
        folder = Path(tmp)
        wheel = _wheel(folder)
        print("| install | seconds | MB added | packages in the venv |\n|---|---|---|---|")
        for variant in args.variants.split(","):
            seconds, megabytes, count = measure(wheel, variant, folder)
            print(f"| `pip install glm-harness{variant}` | {seconds:.1f} | {megabytes:.0f} | {count} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
