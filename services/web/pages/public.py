"""Pages for everyone, no login: the home page, the map of venues and each venue's page."""

from services.web import labels, places
from services.web.http import STATIC, VENDOR, VENDOR_SUFFIXES, page, static_file
from services.web.rpc import call
from shared.errors import InvalidInput, NotFound


class PublicPages:
    @page("GET", "/")
    def home(self, request):
        visit = self.web.visit(request)
        return visit.render("home.html")

    @page("GET", "/carte")
    def venue_map(self, request):
        """The accredited venues around a place (postcode, town, or the visitor's position),
        nearest first, on a map and in a list that works without JavaScript or tiles."""
        visit = self.web.visit(request)
        typed = (request.args.get("q") or "").strip()[:100]
        category = request.args.get("categorie") or ""
        category = category if category in labels.CATEGORIES else ""
        near = places.point(request.args.get("lat"), request.args.get("lon"))
        not_found = False
        if near is None and typed:
            found = places.locate(self.web.features(self.catalog_rpc), typed)
            near = f"{found[0]:.5f},{found[1]:.5f}" if found else None
            not_found = found is None
        query = {"limit": 50, **({"near": near} if near else {})}
        if category:
            query["category"] = category
        try:
            venues = call(self.catalog_rpc.search_venues, query)["venues"]
        except InvalidInput:
            venues = []
        scores = self.web.repo.scores(v["id"] for v in venues)
        for venue in venues:
            venue["score"] = places.average(scores, venue["id"])
        return visit.render(
            "map.html",
            venues=venues,
            typed=typed,
            category=category,
            categories=labels.CATEGORIES,
            venue_types=labels.VENUE_TYPES,
            around_me=near is not None and not typed,
            not_found=not_found,
            tile_url=self.web.settings.tile_url,
        )

    @page("GET", "/lieux/<venue_id>")
    def venue_page(self, request, venue_id):
        """One accredited venue: its services, address, how to come, its rating."""
        visit = self.web.visit(request)
        if len(venue_id) > 64:
            raise NotFound("no such venue", code="venue_not_found")
        venue = call(self.catalog_rpc.get_venue, venue_id, public=True)
        scores = self.web.repo.scores([venue_id])
        return visit.render(
            "venue.html",
            venue=venue,
            score=places.average(scores, venue_id),
            comments=self.web.repo.approved_comments(venue_id),
            categories=labels.CATEGORIES,
            venue_types=labels.VENUE_TYPES,
            tile_url=self.web.settings.tile_url,
        )

    @page("GET", "/static/<path:name>")
    def static(self, request, name):
        return static_file(STATIC, name)

    @page("GET", "/vendor/<package>/<path:name>")
    def vendor(self, request, package, name):
        """The npm packages' files (installed by ``npm ci`` from the lockfile)."""
        if package not in VENDOR:
            raise NotFound("no such package", code="file_not_found")
        return static_file(VENDOR[package], name, allowed=VENDOR_SUFFIXES)
