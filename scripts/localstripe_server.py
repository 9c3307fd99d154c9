"""Run localstripe bound to loopback only.

localstripe's own CLI binds every interface; this serves the same aiohttp app on 127.0.0.1.
It never loads localstripe's pickle from /tmp, which is what `--from-scratch` means upstream,
so every start is empty. The flag is accepted so the command line reads the same.
"""

import argparse

from aiohttp import web
from localstripe.server import app


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
