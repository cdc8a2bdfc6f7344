"""Run every benchmark script in this folder, one after the other.

Usage: ``python -m benchmarks [name ...]`` (names without ``.py``; default: all).
Each script runs in its own interpreter so device state and memory never leak between
benchmarks; the exit status is non-zero if any script failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    here = Path(__file__).resolve().parent
    scripts = sorted(p for p in here.glob("*.py") if not p.name.startswith("_"))
    if argv:
        scripts = [p for p in scripts if p.stem in argv]
    failed = []
    for script in scripts:
        print(f"=== {script.stem} ===", flush=True)
        rc = subprocess.call([sys.executable, str(script)])
        if rc:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
