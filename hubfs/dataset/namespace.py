"""``user/ds`` names -> urls under the configured root (minimal: the default local root)."""
from __future__ import annotations

import os
import re

_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def default_root() -> str:
    return os.environ.get("HUBFS_ROOT") or os.path.expanduser("~/.hubfs/datasets")


def resolve(url: str, token=None):
    """(url, token) with a ``user/ds`` name turned into ``<root>/user/ds``."""
    if "://" not in url and _NAME.match(url) and not url.startswith(".") and not os.path.exists(url):
        return f"{default_root().rstrip('/')}/{url}", token
    return url, token
