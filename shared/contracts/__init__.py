"""What every process of the platform must know about the services, whatever it imports.

Today: each service's expected errors, one module per service (``errors_<service>.py``), all
listed in ``registry.py``. Each service imports its own; the gateway (which runs alone, in its
own process or container) imports the registry, so that it deserializes every
service's errors as themselves and maps each to its HTTP status.
"""

from nameko.exceptions import deserialize_to_instance

from shared.errors import register_error_classes

# every error class, of shared/errors.py and of each service, known to nameko by its module path
register_error_classes(deserialize_to_instance)
