"""The groups service: accounts, sessions, groups and memberships, over RPC.

Entrypoints only check what they were given (nothing the gateway sends is trusted
beyond who the caller is: the actor, through `load_actor`), open one unit of work, let
the domain decide (domain.py holds the rules and returns plain data) and dump the answer
with the output schema of api.py.
"""

from civic.db import Database
from civic.errors import Unauthenticated
from civic.service import ReportsProgrammeFigures, ServiceBase, rpc, timer
from civic.validation import clean_id, dump, load, load_actor
from services.groups import api, domain, figures, volunteers
from services.groups.limits import ConfiguredLimits
from services.groups.models import metadata

__all__ = ["GroupsService", "metadata"]


class GroupsService(ServiceBase, ReportsProgrammeFigures):
    name = "groups"
    # Its part of the programme report (civic.service.ReportsProgrammeFigures).
    monthly_figures = staticmethod(figures.programme_figures)
    db = Database(metadata)
    # The gateways' sign-in and registration limits, counted here for all of them
    # (CIVIC_SIGNIN_*, CIVIC_SIGNUP_*; see limits.py).
    limits = ConfiguredLimits()

    # --- accounts and sessions ----------------------------------------------------------

    @rpc
    def admit_registration(self, address):
        """Count a registration attempt from this client address before it is made
        (the gateway asks first); TooManyAttempts (429) when the address registered too
        often lately."""
        address = load(api.ClientAddressSchema, {"address": address})["address"]
        with self.db as uow:
            domain.admit_registration(uow, self.limits.registration, address)

    @rpc(command=True)
    def register_account(self, payload):
        data = load(api.AccountCreateSchema, payload)
        with self.db as uow:
            account = domain.register_account(uow, **data)
        return dump(api.AccountSchema, account)

    @rpc
    def sign_in(self, email, password, address=None):
        """A session for the right password. With the client's `address` (the gateway
        sends it), failed attempts are counted and limited here, for every gateway: too
        many lately is TooManyAttempts (429). Without one (the command line, tests) the
        attempt is not counted."""
        data = load(api.SessionCreateSchema, {"email": email, "password": password})
        if address is None:
            with self.db as uow:
                session = domain.sign_in(uow, **data)
            return dump(api.SessionSchema, session)
        address = load(api.ClientAddressSchema, {"address": address})["address"]
        rule = self.limits.sign_in
        try:
            with self.db as uow:
                session = domain.sign_in(uow, **data, address=address, rule=rule)
        except Unauthenticated:
            # Its own transaction: the sign-in's rolled back with the refusal.
            with self.db as uow:
                domain.sign_in_failed(uow, rule, data["email"], address)
            raise
        return dump(api.SessionSchema, session)

    @rpc
    def authenticate(self, token):
        with self.db as uow:
            principal = domain.authenticate(uow, token)
        return dump(api.PrincipalSchema, principal)

    @rpc
    def sign_out(self, token):
        with self.db as uow:
            return domain.sign_out(uow, token)

    @rpc
    def confirm_email(self, token):
        """The emailed confirmation link's token: {account_id} of the confirmed account."""
        data = load(api.ConfirmationSchema, {"token": token})
        with self.db as uow:
            return domain.confirm_email(uow, data["token"])

    @rpc(command=True)
    def request_confirmation_email(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            return domain.request_confirmation_email(uow, actor["account_id"])

    @rpc
    def get_me(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            me = domain.get_me(uow, actor["account_id"])
        return dump(api.MeSchema, me)

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            exported = domain.export_account(uow, account_id)
            exported.update(volunteers.export_account(uow.session, account_id))
            return exported

    @rpc(command=True)
    def erase_account(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            volunteers.erase_account(uow, actor["account_id"])
            return domain.erase_account(uow, actor["account_id"])

    @rpc
    def get_accounts(self, account_ids):
        data = load(api.AccountIdsSchema, {"account_ids": account_ids})
        with self.db as uow:
            return domain.get_accounts(uow, data["account_ids"])

    @rpc
    def get_emails(self, account_ids):
        """{account_id: email} of live accounts: for the notifications service, which
        asks once per batch of emails it sends."""
        data = load(api.AccountIdsSchema, {"account_ids": account_ids})
        with self.db as uow:
            return domain.get_emails(uow, data["account_ids"])

    # --- staff accounts and the demo (internal: the gateway does not expose these) --------

    @rpc
    def create_staff_account(self, email, password, display_name):
        """Make the account with this email staff, creating it if needed (`civic staff
        create`): {"account": the account, "created": whether it is new}. Nothing logs
        an RPC's arguments, so the password is in no log line."""
        data = load(
            api.AccountCreateSchema,
            {"email": email, "password": password, "display_name": display_name},
        )
        with self.db as uow:
            account, created = domain.create_or_promote_staff(uow, **data)
        return {"account": dump(api.AccountSchema, account), "created": created}

    @rpc
    def confirm_emails(self, account_ids):
        """Confirm accounts' email addresses without a link (the demo's residents): how
        many were not confirmed before."""
        data = load(api.AccountIdsSchema, {"account_ids": account_ids})
        with self.db as uow:
            return domain.confirm_emails_directly(uow, data["account_ids"])

    # --- groups -------------------------------------------------------------------------

    @rpc
    def list_groups(
        self,
        kind=None,
        page=1,
        per_page=20,
        needs_admin=None,
        awaiting_verification=None,
        verification_refused=None,
    ):
        query = load(
            api.GroupListQuerySchema,
            {
                "kind": kind,
                "page": page,
                "per_page": per_page,
                "needs_admin": needs_admin,
                "awaiting_verification": awaiting_verification,
                "verification_refused": verification_refused,
            },
        )
        with self.db as uow:
            groups = domain.list_groups(uow, **query)
        return dump(api.GroupListSchema, groups)

    @rpc(command=True)
    def create_group(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.GroupCreateSchema, payload)
        with self.db as uow:
            group = domain.create_group(uow, actor["account_id"], **data)
        return dump(api.GroupSchema, group)

    @rpc
    def get_group(self, group_id):
        group_id = clean_id("group_id", group_id)
        with self.db as uow:
            group = domain.get_group(uow, group_id)
        return dump(api.GroupSchema, group)

    @rpc
    def list_members(self, actor, group_id, page=1, per_page=100):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        query = load(api.MemberListQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            members = domain.list_members(uow, actor["account_id"], group_id, **query)
        return dump(api.MemberListSchema, members)

    @rpc(command=True)
    def join_group(self, actor, group_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        with self.db as uow:
            joined = domain.join_group(uow, actor["account_id"], group_id)
        return dump(api.JoinResultSchema, joined)

    @rpc(command=True)
    def approve_member(self, actor, group_id, account_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            membership = domain.approve_member(uow, actor["account_id"], group_id, account_id)
        return dump(api.MembershipSchema, membership)

    @rpc(command=True)
    def remove_member(self, actor, group_id, account_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.remove_member(uow, actor["account_id"], group_id, account_id)

    @rpc(command=True)
    def appoint_admin(self, actor, group_id, account_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        account_id = load(api.AdminAppointSchema, {"account_id": account_id})["account_id"]
        with self.db as uow:
            group = domain.appoint_admin(uow, actor["account_id"], group_id, account_id)
        return dump(api.GroupSchema, group)

    @rpc(command=True)
    def verify_group(self, actor, group_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        with self.db as uow:
            group = domain.verify_group(uow, actor["account_id"], group_id)
        return dump(api.GroupSchema, group)

    @rpc(command=True)
    def refuse_group_verification(self, actor, group_id, reason):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        reason = load(api.VerificationRefusalSchema, {"reason": reason})["reason"]
        with self.db as uow:
            group = domain.refuse_verification(uow, actor["account_id"], group_id, reason)
        return dump(api.GroupSchema, group)

    @rpc
    def find_account(self, actor, email):
        """Staff: {id, display_name} of the live account with this email address."""
        actor = load_actor(actor)
        email = load(api.AccountLookupSchema, {"email": email})["email"]
        with self.db as uow:
            account = domain.find_account(uow, actor["account_id"], email)
        return dump(api.PublicAccountSchema, account)

    @rpc(command=True)
    def join_network(self, actor, group_id, network_id):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        network_id = load(api.NetworkJoinSchema, {"network_id": network_id})["network_id"]
        with self.db as uow:
            group = domain.join_network(uow, actor["account_id"], group_id, network_id)
        return dump(api.GroupSchema, group)

    @rpc
    def is_group_admin(self, account_id, group_id):
        account_id = clean_id("account_id", account_id)
        group_id = clean_id("group_id", group_id)
        with self.db as uow:
            return domain.is_group_admin(uow, account_id, group_id)

    # --- volunteers (volunteers.py) ---------------------------------------------------------

    @rpc
    def list_volunteer_skills(self, include_retired=False):
        include_retired = load(api.SkillListQuerySchema, {"include_retired": include_retired})[
            "include_retired"
        ]
        with self.db as uow:
            return dump(api.SkillListSchema, volunteers.list_skills(uow, include_retired))

    @rpc(command=True)
    def add_volunteer_skill(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.SkillCreateSchema, payload)
        with self.db as uow:
            skill = volunteers.add_skill(uow, actor["account_id"], **data)
        return dump(api.SkillSchema, skill)

    @rpc(command=True)
    def retire_volunteer_skill(self, actor, key):
        actor = load_actor(actor)
        key = load(api.SkillKeySchema, {"key": key})["key"]
        with self.db as uow:
            return volunteers.retire_skill(uow, actor["account_id"], key)

    @rpc
    def get_volunteer_profile(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            profile = volunteers.get_profile(uow, actor["account_id"])
        return dump(api.VolunteerProfileSchema, profile)

    @rpc(command=True)
    def save_volunteer_profile(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.VolunteerProfileSaveSchema, payload)
        with self.db as uow:
            profile = volunteers.save_profile(uow, actor["account_id"], **data)
        return dump(api.VolunteerProfileSchema, profile)

    @rpc(command=True)
    def delete_volunteer_profile(self, actor):
        actor = load_actor(actor)
        with self.db as uow:
            return volunteers.delete_profile(uow, actor["account_id"])

    @rpc
    def search_volunteers(
        self, actor, skill=None, availability=None, season=None, interest=None, page=1, per_page=20
    ):
        actor = load_actor(actor)
        query = load(
            api.VolunteerSearchQuerySchema,
            {
                "skill": skill,
                "availability": availability,
                "season": season,
                "interest": interest,
                "page": page,
                "per_page": per_page,
            },
        )
        with self.db as uow:
            found = volunteers.search(uow, actor["account_id"], **query)
        return dump(api.VolunteerListSchema, found)

    @rpc(command=True)
    def invite_volunteer(self, actor, volunteer_id, payload):
        actor = load_actor(actor)
        volunteer_id = clean_id("account_id", volunteer_id)
        data = load(api.VolunteerInvitationSendSchema, payload)
        with self.db as uow:
            invitation = volunteers.invite(uow, actor["account_id"], volunteer_id, **data)
        return dump(api.VolunteerInvitationSchema, invitation)

    @rpc
    def list_my_volunteer_invitations(self, actor, status=None, page=1, per_page=20):
        actor = load_actor(actor)
        query = load(
            api.InvitationListQuerySchema, {"status": status, "page": page, "per_page": per_page}
        )
        with self.db as uow:
            found = volunteers.list_my_invitations(uow, actor["account_id"], **query)
        return dump(api.VolunteerInvitationListSchema, found)

    @rpc
    def list_group_volunteer_invitations(self, actor, group_id, page=1, per_page=20):
        actor, group_id = load_actor(actor), clean_id("group_id", group_id)
        query = load(api.PageQuerySchema, {"page": page, "per_page": per_page})
        with self.db as uow:
            found = volunteers.list_group_invitations(uow, actor["account_id"], group_id, **query)
        return dump(api.VolunteerInvitationListSchema, found)

    @rpc(command=True)
    def answer_volunteer_invitation(self, actor, invitation_id, answer):
        actor = load_actor(actor)
        invitation_id = clean_id("invitation_id", invitation_id)
        answer = load(api.InvitationAnswerSchema, {"answer": answer})["answer"]
        with self.db as uow:
            invitation = volunteers.answer_invitation(
                uow, actor["account_id"], invitation_id, answer
            )
        return dump(api.VolunteerInvitationSchema, invitation)

    # --- upkeep --------------------------------------------------------------------------

    @timer("CIVIC_RETENTION_INTERVAL")
    def prune_attempts(self):
        """Counted sign-in and registration attempts are kept as long as their window."""
        with self.db as uow:
            domain.prune_attempts(uow, self.limits)
