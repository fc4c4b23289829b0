"""What every process of the platform must know about the services, whatever it imports.

Today: each service's expected errors, one module per service (``errors_<service>.py``), all
listed in ``registry.py``. The services' ``exceptions.py`` re-export them; the gateway (which runs
alone, in its own process or container) imports the registry, so that it deserializes every
service's errors as themselves and maps each to its HTTP status.
"""
