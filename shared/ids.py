"""Identifiers: a readable prefix (what kind of thing) and 20 random hex characters."""

import re
import secrets

_ID = re.compile(r"[a-z]{2,4}_[0-9a-f]{20}")  # whole string, ASCII only (fullmatch)


def new_id(prefix):
    return f"{prefix}_{secrets.token_hex(10)}"


def looks_like_id(value, prefix=None):
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return False
    return prefix is None or value.startswith(prefix + "_")
