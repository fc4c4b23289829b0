"""Making an account: checked, bound to a venue, sponsor or distributor that exists (asked of
the service that owns it, as the gateway does for API keys), password hashed."""

from marshmallow import ValidationError, fields, validate, validates_schema

from services.web import accounts
from services.web.rpc import call
from shared.schemas import StrictSchema

# who asks the owning services, when no person's actor is at hand (``aptic users create``)
WEB_OPERATOR = {
    "role": "operator",
    "key_id": None,
    "subject_id": None,
    "label": "web: checks the subject of a new account",
}


class AccountInput(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=200))
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in accounts.Role]))
    subject_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    password = fields.String(
        required=True,
        validate=validate.Length(min=accounts.MIN_PASSWORD, max=accounts.MAX_PASSWORD),
    )

    @validates_schema
    def check_subject(self, data, **kwargs):
        if data["role"] in accounts.SUBJECT_ROLES and not data.get("subject_id"):
            raise ValidationError(
                f"a {data['role']} account is bound to one: give its id", "subject_id"
            )
        if data["role"] == accounts.Role.OPERATOR and data.get("subject_id"):
            raise ValidationError("an operator account is bound to nobody", "subject_id")


def require_subject(service, role, subject_id, actor):
    if role == accounts.Role.VENUE:
        call(service.catalog_rpc.get_venue, subject_id, public=False)
    elif role == accounts.Role.SPONSOR:
        call(service.ordering_rpc.get_sponsor, subject_id, actor)
    elif role == accounts.Role.DISTRIBUTOR:
        call(service.ordering_rpc.get_distributor, subject_id, actor)


def create_account(service, payload, actor=None):
    """The new account (without its hash); ``account_exists``, ``validation_error`` or the
    owning service's ``*_not_found`` otherwise."""
    data = AccountInput().load_or_raise(
        {**payload, "subject_id": payload.get("subject_id") or None}
    )
    require_subject(service, data["role"], data["subject_id"], actor or WEB_OPERATOR)
    record = service.web.repo.create_user(
        accounts.normalize_email(data["email"]),
        data["role"],
        data["subject_id"],
        accounts.hash_password(data["password"]),
    )
    record.pop("password_hash", None)
    return record
