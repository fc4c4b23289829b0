"""The ``aptic`` command: run the platform, manage API keys, drive operator tasks over AMQP."""
