"""The beneficiary's rating page: 1 to 5 and a comment, once per redemption, no account."""

from services.web import ratings
from services.web.http import page
from services.web.rpc import call
from shared.errors import NotFound


class RatingPages:
    @page("GET,POST", "/avis/<redemption_id>/<signature>")
    def rate(self, request, redemption_id, signature):
        visit = self.web.visit(request)
        settings = self.web.settings
        if len(redemption_id) > 64 or not ratings.genuine(settings, redemption_id, signature):
            raise NotFound("no such rating link", code="rating_link_unknown")
        if self.web.repo.rating(redemption_id) is not None:
            return visit.render("rate.html", done=True, already=request.method == "GET")
        redemption = call(self.redemption_rpc.get_redemption, redemption_id)
        if redemption["status"] == "voided":
            raise NotFound("this redemption was voided", code="rating_link_unknown")
        venue = call(self.catalog_rpc.get_venue, redemption["venue_id"], public=False)
        if request.method == "GET":
            return visit.render("rate.html", venue=venue, score=None, comment="")
        visit.check_csrf()
        score, comment = ratings.read_rating(request.form)
        if score is None:
            return visit.render(
                "rate.html", status=400, venue=venue, score=None, comment=comment, missing=True
            )
        created = self.web.repo.add_rating(redemption_id, venue["id"], score, comment)
        return visit.render("rate.html", done=True, already=not created)
