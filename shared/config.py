"""Configuration from YAML, with ``${VAR}`` and ``${VAR:default}`` filled from the environment.

A value that is a placeholder alone takes the type its text reads as in YAML
(``${WEB_PORT:8000}`` is the int 8000); inside a longer string it is text.
"""

import os
import re

import yaml

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


class MissingVariable(KeyError):
    """A ``${VAR}`` without default whose variable is not set."""


def _fill(text, environ):
    def replace(match):
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is None:
            raise MissingVariable(f"environment variable {name} is not set and has no default")
        return default

    whole = _PLACEHOLDER.fullmatch(text)
    if whole:
        return yaml.safe_load(replace(whole)) if replace(whole) != "" else ""
    return _PLACEHOLDER.sub(replace, text)


def _walk(value, environ):
    if isinstance(value, dict):
        return {key: _walk(item, environ) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, environ) for item in value]
    if isinstance(value, str):
        return _fill(value, environ)
    return value


def load_config_text(text, environ=None):
    environ = os.environ if environ is None else environ
    return _walk(yaml.safe_load(text) or {}, environ)


def load_config(path, environ=None):
    with open(path, encoding="utf-8") as handle:
        return load_config_text(handle.read(), environ)
