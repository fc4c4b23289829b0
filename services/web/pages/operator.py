"""Operator staff: people's accounts, and the comments of ratings to approve."""

from services.web import accounts, labels
from services.web.http import page
from services.web.users import create_account
from shared.errors import AppError


class OperatorPages:
    @page("GET", "/operateur")
    def operator_home(self, request):
        visit = self.web.visit(request)
        visit.require("operator")
        pending = len(self.web.repo.pending_comments())
        return visit.render("operator.html", pending=pending)

    @page("GET,POST", "/operateur/comptes")
    def operator_accounts(self, request):
        """Every account; making one (bound to a venue, sponsor or distributor that exists)."""
        visit = self.web.visit(request)
        person = visit.require("operator")
        values, error, created = {}, None, None
        if request.method == "POST":
            visit.check_csrf()
            values = {
                k: (request.form.get(k) or "").strip()[:200]
                for k in ("email", "role", "subject_id")
            }
            password = (request.form.get("password") or "")[: accounts.MAX_PASSWORD]
            try:
                created = create_account(self, {**values, "password": password}, person.actor())
                values = {}
            except AppError as exc:
                error = exc.code
        return visit.render(
            "accounts.html",
            status=400 if error else 200,
            users=self.web.repo.list_users(),
            roles=labels.ROLES,
            values=values,
            error=error,
            created=created,
            min_password=accounts.MIN_PASSWORD,
        )

    @page("GET,POST", "/operateur/avis")
    def operator_comments(self, request):
        """Comments waiting for a decision: approved ones show on the venue's page."""
        visit = self.web.visit(request)
        visit.require("operator")
        if request.method == "POST":
            visit.check_csrf()
            rating_id = (request.form.get("rating_id") or "")[:64]
            decision = request.form.get("decision")
            if decision in ("approve", "reject"):
                self.web.repo.decide_comment(rating_id, decision == "approve")
            return visit.redirect("/operateur/avis")
        return visit.render("comments.html", comments=self.web.repo.pending_comments())
