"""The sponsor's space: orders with their quote, payments and documents; booklets to assign, report or block."""


class SponsorPages:
    pass
