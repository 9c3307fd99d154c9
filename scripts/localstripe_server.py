"""Run localstripe bound to loopback only, in memory.

localstripe's own CLI binds every interface and pickles its whole store to
/tmp/localstripe.pickle after each write. This serves the same aiohttp app on 127.0.0.1 and
keeps the store in memory only: every start is empty (what `--from-scratch` means upstream),
and the dev (8420) and test (8421) servers never share a file. The flag is accepted so the
command line reads the same.
"""

import argparse

from aiohttp import web
from localstripe.resources import store
from localstripe.server import app

# Persistence is what --from-scratch throws away anyway; skip writing it.
type(store).dump_to_disk = lambda self: None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8420)
    parser.add_argument("--from-scratch", action="store_true", help="always on; kept for clarity")
    args = parser.parse_args()
    print(f"localstripe listening on http://{args.host}:{args.port} (empty store)", flush=True)
    web.run_app(app, host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
