"""Catalog: accredited venues, the services they offer, the public map."""
