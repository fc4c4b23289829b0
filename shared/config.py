"""Configuration: YAML whose ``${VAR}`` and ``${VAR:default}`` are filled from the environment by
nameko's own loader (``nameko.cli.main.env_var_constructor``, what ``nameko run --config`` uses).

A value that is a placeholder alone takes the type its text reads as in YAML (``${WEB_PORT:8000}``
is the int 8000); inside a longer string it is text; a variable neither set nor defaulted reads
as None (a setting that must be set is checked by the service's ``Settings``).

No nameko container, no eventlet: the ``aptic`` commands read their config with it too.
"""

from functools import partial

import yaml
from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor


class Loader(yaml.SafeLoader):
    """YAML's safe loader with nameko's ``${VAR:default}`` resolver, on a class of its own
    (nameko's ``setup_yaml_parser`` would change ``yaml.SafeLoader`` for the whole process)."""


Loader.add_constructor("!env_var", env_var_constructor)
Loader.add_constructor("!raw_env_var", partial(env_var_constructor, raw=True))
Loader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)


def load_config_text(text):
    return yaml.load(text, Loader=Loader) or {}  # noqa: S506 (a safe loader)


def load_config(path):
    with open(path, encoding="utf-8") as handle:
        return load_config_text(handle.read())
