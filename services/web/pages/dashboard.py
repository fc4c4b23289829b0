"""The sponsor's dashboard (k-anonymous), its CSV exports and the read-only link shared with partners."""


class DashboardPages:
    pass
