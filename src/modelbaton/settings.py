"""Where Baton keeps its state and who is acting: `$BATON_HOME` and `$BATON_USER`."""

from __future__ import annotations

import getpass
import os
from pathlib import Path


def baton_home() -> Path:
    """The embedded registry, caches and keyring; `./.baton` unless `$BATON_HOME` says."""
    return Path(os.environ.get("BATON_HOME") or ".baton").expanduser()


def current_user() -> str:
    """The actor recorded in lineage and the audit log: `$BATON_USER`, else the OS user."""
    return os.environ.get("BATON_USER") or getpass.getuser()
