"""``nerfspec`` command line: the parser over the subcommands of ``nerfspec.commands`` and the
mapping of errors to exit codes.

Errors in what the user gave (dataset, config, run directory) print one line
``error: ...`` and exit with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys

from nerfspec.commands import check_data, compare, fit, make_scene, mesh, render, report, train, view
from nerfspec.commands import eval as evaluate
from nerfspec.errors import NerfspecError
from nerfspec.memory import keep_freed_memory

# command name -> its module, in the order ``nerfspec --help`` lists them
MODULES = {"train": train, "eval": evaluate, "make-scene": make_scene, "check-data": check_data,
           "compare": compare, "render": render, "mesh": mesh, "report": report, "view": view, "fit": fit}
# command name -> what runs it (parsed arguments -> exit code)
COMMANDS = {name: module.run for name, module in MODULES.items()}


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one error form: a bad or missing argument is one line
    ``error: <command>: <what>`` on stderr and exit code 2 (not argparse's usage block)."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nerfspec", description="Neural radiance fields with "
                                     "interchangeable input mappings (none, basic, pe, gauss, rffca).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in MODULES.values():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()
    try:
        return COMMANDS[args.command](args)
    except NerfspecError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions: outputs are written atomically
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
