"""Venues apply themselves: the public application form."""


class ApplicationPages:
    pass
