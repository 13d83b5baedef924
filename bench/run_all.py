"""`make bench`: runs every benchmark in bench/ (each prints our figure beside its peer's) one after the other.

Each runs in its own process so one benchmark's caches, threads or servers cannot colour the next one's figures.
Every bench/*.py is a benchmark (event_create.py, clock_job.py and visit_submit.py included) except this runner,
the helpers in HELPERS (server.py: the gunicorn the HTTP benchmarks share) and files starting with an underscore.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELPERS = {"server.py"}


def main():
    failed = []
    for script in sorted(HERE.glob("*.py")):
        if script.name == Path(__file__).name or script.name in HELPERS or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        print(f"== {script.name}: {'ok' if result.returncode == 0 else f'FAILED ({result.returncode})'} "
              f"in {time.perf_counter() - start:.0f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
