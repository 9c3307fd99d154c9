"""Entry point: ``python -m bench [decisions|api [options]|billing|extracts [options]]``
(``make bench`` runs all).

``decisions``: the parser and access-decision benchmarks (bench/runner.py); ``api``: the
tracking API under load (bench/api_runner.py); ``billing``: the monthly invoice run for 1,000
and 10,000 providers (bench/billing_run.py); ``extracts``: scan event extracts of 100k and 1M
events against a plain COPY of the same rows (bench/extracts.py). Each rewrites its own sections of
docs/benchmarks.md. With no argument all run, each in its own process, since each configures
Django with its own settings.
"""

import subprocess
import sys


def _main(argv: list[str]) -> int:
    if argv[:1] == ["decisions"]:
        from bench.runner import main

        return main()
    if argv[:1] == ["api"]:
        from bench.api_runner import main

        return main(argv[1:])
    if argv[:1] == ["billing"]:
        from bench.billing_run import main

        return main()
    if argv[:1] == ["extracts"]:
        from bench.extracts import main

        return main(argv[1:])
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    for suite in ("decisions", "api", "billing", "extracts"):
        code = subprocess.call([sys.executable, "-m", "bench", suite])  # noqa: S603
        if code:
            return code
    return 0


raise SystemExit(_main(sys.argv[1:]))
