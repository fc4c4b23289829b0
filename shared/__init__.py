"""The shared kernel: what every service of the platform uses the same way."""
