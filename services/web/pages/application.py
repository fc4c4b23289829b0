"""Venues apply themselves: the public application form. It registers an applied venue in the
catalog (``apply_venue``: never accredited, the operator decides) and the account of the person
who applied (role ``venue``, bound to it). No login; CSRF, a throttle per address, limits."""

from datetime import timedelta

from services.web import accounts, labels, places
from services.web.accounts import MAX_PASSWORD, MIN_PASSWORD
from services.web.http import page
from services.web.rpc import call
from services.web.users import create_account
from shared.addresses import client_address
from shared.errors import Conflict, InvalidInput

THROTTLE_WINDOW = timedelta(hours=1)
MAX_APPLICATIONS = 5  # applications sent from one address in the window
MAX_REFUSED = 20  # forms refused from one address in the window (a guessing or flooding guard)

# the form's text fields and their longest value (the catalog's limits; one more character is
# kept so that the catalog refuses an overlong value instead of a silent cut)
TEXT_FIELDS = {
    "name": 200,
    "venue_type": 40,
    "address": 300,
    "postcode": 10,
    "city": 100,
    "town_code": 10,
    "siret": 30,
    "iban": 50,
    "contact_email": 200,
    "phone": 30,
    "description": 1000,
    "lat": 30,
    "lon": 30,
}
# a catalog field refused -> the form's field that shows it
CATALOG_FIELDS = {"location": "location", "department": "town_code"}


def application_values(form):
    values = {}
    for field, longest in TEXT_FIELDS.items():
        text = (form.get(field) or "").strip()[: longest + 1]
        values[field] = " ".join(text.split()) if field != "description" else text
    values["iban"] = values["iban"].replace(" ", "").upper()
    values["siret"] = values["siret"].replace(" ", "")
    values["town_code"] = values["town_code"].upper()
    values["contact_email"] = accounts.normalize_email(values["contact_email"])
    chosen = form.getlist("offered_categories")[: len(labels.CATEGORIES)]
    values["offered_categories"] = [c for c in chosen if c in labels.CATEGORIES]
    return values


def application_payload(values, features):
    """The catalog's ``VenueApplicationInput`` from the form (the catalog checks it), or the
    fields already known to be wrong. The place: the position the applicant's browser gave, else
    the centre of the accredited venues of the postcode, else of its department."""
    errors = {}
    location = None
    point = places.point(values["lat"], values["lon"])
    if point is not None:
        lat, lon = point.split(",")
        location = {"lat": float(lat), "lon": float(lon)}
    elif values["postcode"]:
        found = places.locate(features, values["postcode"]) or places.locate(
            features, values["postcode"][:2]
        )
        if found:
            location = {"lat": round(found[0], 5), "lon": round(found[1], 5)}
    if location is None:
        errors["location"] = "unknown"
    if not values["offered_categories"]:
        errors["offered_categories"] = "none"
    payload = {
        key: values[key]
        for key in (
            "name",
            "address",
            "postcode",
            "city",
            "town_code",
            "venue_type",
            "iban",
            "contact_email",
            "phone",
            "description",
            "offered_categories",
        )
    }
    payload["siret"] = values["siret"] or None
    payload["location"] = location or {"lat": 0.0, "lon": 0.0}
    return payload, errors


def password_errors(password, again):
    if len(password) < MIN_PASSWORD:
        return {"password": "short"}
    if password != again:
        return {"password_again": "different"}
    return {}


class ApplicationPages:
    @page("GET,POST", "/candidature")
    def application(self, request):
        visit = self.web.visit(request)
        if request.method == "GET":
            return self._application_form(visit, {"offered_categories": []}, {})
        visit.check_csrf()
        repo = self.web.repo
        address = client_address(request, self.web.settings.trusted_proxies)
        sent_key, refused_key = f"application:{address}", f"application-refused:{address}"
        if (
            repo.attempts(sent_key, THROTTLE_WINDOW) >= MAX_APPLICATIONS
            or repo.attempts(refused_key, THROTTLE_WINDOW) >= MAX_REFUSED
        ):
            values = application_values(request.form)
            return self._application_form(visit, values, {}, status=429, throttled=True)
        values = application_values(request.form)
        password = (request.form.get("password") or "")[:MAX_PASSWORD]
        again = (request.form.get("password_again") or "")[:MAX_PASSWORD]
        payload, errors = application_payload(values, self.web.features(self.catalog_rpc))
        errors.update(password_errors(password, again))
        if values["contact_email"] and repo.user_by_email(values["contact_email"]):
            errors["contact_email"] = "taken"
        venue = None
        if not errors:
            try:
                venue = call(self.catalog_rpc.apply_venue, payload)
            except InvalidInput as exc:
                fields = (exc.details or {}).get("fields") or {"name": ["invalid"]}
                errors = {CATALOG_FIELDS.get(f, f): "invalid" for f in fields}
        if venue is not None:
            account = {
                "email": values["contact_email"],
                "role": accounts.Role.VENUE.value,
                "subject_id": venue["id"],
                "password": password,
            }
            try:
                create_account(self, account)
            except Conflict:  # the same e-mail applied a moment ago: the venue stays unbound
                errors = {"contact_email": "taken"}
        if errors:
            repo.record_failure(refused_key)
            return self._application_form(visit, values, errors, status=400)
        repo.record_failure(sent_key)
        return visit.redirect("/candidature/envoyee")

    @page("GET", "/candidature/envoyee")
    def application_sent(self, request):
        visit = self.web.visit(request)
        return visit.render("application_sent.html")

    def _application_form(self, visit, values, errors, status=200, throttled=False):
        return visit.render(
            "application.html",
            status=status,
            values=values,
            errors=errors,
            throttled=throttled,
            categories=labels.CATEGORIES,
            venue_types=labels.VENUE_TYPES,
            min_password=MIN_PASSWORD,
        )
