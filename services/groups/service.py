"""The groups service: accounts, sessions, groups and memberships, over RPC.

Entrypoints only check what they were given (nothing the gateway sends is trusted),
open one unit of work, and let the domain decide; see domain.py for the rules.
"""
from civic.db import Database
from civic.service import ServiceBase, rpc
from services.groups import domain, schemas
from services.groups.models import metadata
from civic.validation import clean_id, load

__all__ = ["GroupsService", "metadata"]


class GroupsService(ServiceBase):
    name = "groups"
    db = Database(metadata)

    # --- accounts and sessions ----------------------------------------------------------

    @rpc
    def register_account(self, payload):
        data = load(schemas.AccountCreateSchema, payload)
        with self.db as uow:
            return domain.register_account(uow, **data)

    @rpc
    def sign_in(self, email, password):
        data = load(schemas.SessionCreateSchema, {"email": email, "password": password})
        with self.db as uow:
            return domain.sign_in(uow, **data)

    @rpc
    def authenticate(self, token):
        with self.db as uow:
            return domain.authenticate(uow, token)

    @rpc
    def sign_out(self, token):
        with self.db as uow:
            return domain.sign_out(uow, token)

    @rpc
    def confirm_email(self, token):
        """The emailed confirmation link's token: {account_id} of the confirmed account."""
        data = load(schemas.ConfirmationSchema, {"token": token})
        with self.db as uow:
            return domain.confirm_email(uow, data["token"])

    @rpc
    def request_confirmation_email(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.request_confirmation_email(uow, account_id)

    @rpc
    def get_me(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.get_me(uow, account_id)

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)

    @rpc
    def erase_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.erase_account(uow, account_id)

    @rpc
    def get_accounts(self, account_ids):
        data = load(schemas.AccountIdsSchema, {"account_ids": account_ids})
        with self.db as uow:
            return domain.get_accounts(uow, data["account_ids"])

    @rpc
    def get_emails(self, account_ids):
        """{account_id: email} of live accounts: for the notifications service, which
        asks once per batch of emails it sends."""
        data = load(schemas.AccountIdsSchema, {"account_ids": account_ids})
        with self.db as uow:
            return domain.get_emails(uow, data["account_ids"])

    # --- groups -------------------------------------------------------------------------

    @rpc
    def list_groups(self, kind=None, page=1, per_page=20, needs_admin=None):
        query = load(schemas.GroupListQuerySchema,
                     {"kind": kind, "page": page, "per_page": per_page,
                      "needs_admin": needs_admin})
        with self.db as uow:
            return domain.list_groups(uow, **query)

    @rpc
    def create_group(self, actor_id, payload):
        actor_id = clean_id("actor_id", actor_id)
        data = load(schemas.GroupCreateSchema, payload)
        with self.db as uow:
            return domain.create_group(uow, actor_id, **data)

    @rpc
    def get_group(self, group_id):
        group_id = clean_id("group_id", group_id)
        with self.db as uow:
            return domain.get_group(uow, group_id)

    @rpc
    def join_group(self, actor_id, group_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        with self.db as uow:
            return domain.join_group(uow, actor_id, group_id)

    @rpc
    def approve_member(self, actor_id, group_id, account_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.approve_member(uow, actor_id, group_id, account_id)

    @rpc
    def remove_member(self, actor_id, group_id, account_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.remove_member(uow, actor_id, group_id, account_id)

    @rpc
    def appoint_admin(self, actor_id, group_id, account_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        account_id = load(schemas.AdminAppointSchema,
                          {"account_id": account_id})["account_id"]
        with self.db as uow:
            return domain.appoint_admin(uow, actor_id, group_id, account_id)

    @rpc
    def verify_group(self, actor_id, group_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        with self.db as uow:
            return domain.verify_group(uow, actor_id, group_id)

    @rpc
    def join_network(self, actor_id, group_id, network_id):
        actor_id, group_id = clean_id("actor_id", actor_id), clean_id("group_id", group_id)
        network_id = load(schemas.NetworkJoinSchema, {"network_id": network_id})["network_id"]
        with self.db as uow:
            return domain.join_network(uow, actor_id, group_id, network_id)

    @rpc
    def is_group_admin(self, account_id, group_id):
        account_id = clean_id("account_id", account_id)
        group_id = clean_id("group_id", group_id)
        with self.db as uow:
            return domain.is_group_admin(uow, account_id, group_id)
