"""The ``igkit`` command line: one sub-command a module (``demo``, ``sim``, ...)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from igkit import __version__
from igkit.errors import IgkitError

__all__ = ["build_parser", "main"]

# sub-command name → module exposing add_parser(subparsers) and run(args) -> int
_COMMANDS = {
    "demo": "igkit.cli.demo",
    "sim": "igkit.cli_sim",
    "run": "igkit.cli.run",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="igkit",
        description="Research on history, then trade the same strategy live on IG.",
    )
    parser.add_argument("--version", action="version", version=f"igkit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError as e:  # a face whose module is missing must not break the others
            logging.getLogger(__name__).debug("command %s unavailable: %s", name, e)
            continue
        p = mod.add_parser(sub)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except IgkitError as e:
        print(f"igkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
