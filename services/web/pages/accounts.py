"""Logging in and out, changing one's password (the sponsor's space is in ``sponsor.py``)."""

from services.web import accounts
from services.web.accounts import HOME, MAX_PASSWORD, MIN_PASSWORD
from services.web.http import page
from shared.addresses import client_address


def _safe_target(target):
    """Where to go after login: a path of this site only (never another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:500]
    return None


class AccountPages:
    @page("GET,POST", "/connexion")
    def login(self, request):
        visit = self.web.visit(request)
        target = _safe_target(request.values.get("suite"))
        if request.method == "GET":
            if visit.person is not None:
                return visit.redirect(target or HOME[visit.person.role])
            return visit.render("login.html", email="", target=target)
        visit.check_csrf()
        email = accounts.normalize_email(request.form.get("email"))[:200]
        password = (request.form.get("password") or "")[:MAX_PASSWORD]
        address = client_address(request, self.web.settings.trusted_proxies)
        keys = (f"account:{email}", f"address:{address}")
        repo = self.web.repo
        if accounts.too_many(repo.failures(keys[0]), repo.failures(keys[1])):
            return visit.render(
                "login.html", status=429, email=email, target=target, error="throttled"
            )
        user = repo.user_by_email(email) if email else None
        if not accounts.password_matches(user and user["password_hash"], password):
            repo.record_failure(*keys)
            return visit.render("login.html", status=401, email=email, target=target, error="wrong")
        repo.forget_failures(keys[0])
        visit.start_session(repo.open_session(user, self.web.settings.session_hours))
        return visit.redirect(target or HOME[user["role"]])

    @page("POST", "/deconnexion")
    def logout(self, request):
        visit = self.web.visit(request)
        visit.check_csrf()
        self.web.repo.close_session(visit.session_token)
        visit.end_session()
        return visit.redirect("/connexion?deconnecte=1")

    @page("GET,POST", "/compte/mot-de-passe")
    def change_password(self, request):
        visit = self.web.visit(request)
        person = visit.require()
        if request.method == "GET":
            return visit.render("password.html", errors={})
        visit.check_csrf()
        current = (request.form.get("current") or "")[:MAX_PASSWORD]
        new = (request.form.get("new") or "")[:MAX_PASSWORD]
        again = (request.form.get("again") or "")[:MAX_PASSWORD]
        user = self.web.repo.user(person.user_id)
        errors = {}
        if not accounts.password_matches(user["password_hash"], current):
            errors["current"] = "wrong"
        if len(new) < MIN_PASSWORD:
            errors["new"] = "short"
        elif new != again:
            errors["again"] = "different"
        if errors:
            return visit.render("password.html", status=400, errors=errors)
        self.web.repo.set_password(person.user_id, accounts.hash_password(new))
        self.web.repo.close_other_sessions(person.user_id, visit.session_token)
        return visit.render("password.html", errors={}, changed=True)
