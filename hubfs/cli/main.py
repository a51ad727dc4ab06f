"""Entry point of the ``hubfs`` command: one argparse parser, sub-commands registered by modules."""
from __future__ import annotations

import argparse
import sys

from hubfs.errors import HubfsError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubfs",
        description="Datasets for machine learning on zarr v3, mountable as folders of ordinary files.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from hubfs.cli import account, datasets, mount, versions  # each module adds its own sub-commands

    mount.register(sub)
    datasets.register(sub)
    versions.register(sub)
    account.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except HubfsError as exc:
        print(f"hubfs: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
