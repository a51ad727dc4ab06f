"""Sub-commands: placeholder until its owner lands it."""
from __future__ import annotations

import argparse


def register(sub: "argparse._SubParsersAction") -> None:
    """Add this module's sub-commands to the `hubfs` parser."""
