"""Gateway: the public HTTP API (``/api/v1``), API keys and roles, OpenAPI, health."""
