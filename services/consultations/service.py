"""The consultations service: consultations staff put to the town, residents' answers
(once each) and those staff enter from interviews and town-hall meetings, moderation of
free texts, results; a timer that opens and closes consultations at their moments.

Entrypoints only check what they were given, open one unit of work, let the domain
decide, and dump its answer with api.py's schemas; see domain.py for the rules,
results.py for the arithmetic and models.py for how anonymity is kept. Whether a caller
is staff is what the gateway (the trust boundary) said in the actor.

Nothing here logs who answered: an answer's worker logs only the kernel's lines.
"""

from __future__ import annotations

from civic.db import Database, utcnow
from civic.log import get_logger
from civic.messaging import event_handler
from civic.service import ServiceBase, rpc, timer
from civic.validation import clean_id, dump, load, load_actor
from services.consultations import api, domain
from services.consultations.models import metadata

__all__ = ["ConsultationsService", "metadata"]

log = get_logger(__name__)


class ConsultationsService(ServiceBase):
    name = "consultations"
    db = Database(metadata)

    # --- consultations ------------------------------------------------------------------

    @rpc
    def list_consultations(self, actor, status=None, page=1, per_page=20):
        actor = load_actor(actor, required=False)
        query = load(
            api.ConsultationListQuerySchema, {"status": status, "page": page, "per_page": per_page}
        )
        with self.db as uow:
            found = domain.list_consultations(uow, actor, **query)
        return dump(api.ConsultationListSchema, found)

    @rpc
    def get_consultation(self, actor, consultation_id):
        actor = load_actor(actor, required=False)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.get_consultation(uow, actor, consultation_id)
        return dump(api.ConsultationSchema, found)

    @rpc(command=True)
    def create_consultation(self, actor, payload):
        actor = load_actor(actor)
        data = load(api.ConsultationSaveSchema, payload)
        with self.db as uow:
            found = domain.create_consultation(uow, actor, data)
        return dump(api.ConsultationSchema, found)

    @rpc(command=True)
    def update_consultation(self, actor, consultation_id, payload):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        data = load(api.ConsultationSaveSchema, payload)
        with self.db as uow:
            found = domain.update_consultation(uow, actor, consultation_id, data)
        return dump(api.ConsultationSchema, found)

    @rpc(command=True)
    def publish_consultation(self, actor, consultation_id):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.publish_consultation(uow, actor, consultation_id)
        return dump(api.ConsultationSchema, found)

    @rpc(command=True)
    def close_consultation(self, actor, consultation_id):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.close_consultation(uow, actor, consultation_id)
        return dump(api.ConsultationSchema, found)

    @rpc(command=True)
    def publish_results(self, actor, consultation_id):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.publish_results(uow, actor, consultation_id)
        return dump(api.ConsultationSchema, found)

    # --- answers ------------------------------------------------------------------------

    # The command record's fingerprint covers the consultation only: with the caller and
    # the answers in it, a hash of every account with every stored response would find
    # who gave an anonymous answer. (The request id is the caller's own already.)
    @rpc(command=True, fingerprinted=("consultation_id",))
    def submit_answer(self, actor, consultation_id, payload):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        data = load(api.AnswerSubmitSchema, payload)
        with self.db as uow:
            receipt = domain.submit_answer(uow, actor, consultation_id, **data)
        return dump(api.AnswerReceiptSchema, receipt)

    @rpc
    def get_results(self, actor, consultation_id):
        actor = load_actor(actor, required=False)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.get_results(uow, actor, consultation_id)
        return dump(api.ResultsSchema, found)

    @rpc
    def answers_csv(self, actor, consultation_id):
        actor = load_actor(actor, required=False)
        consultation_id = clean_id("consultation_id", consultation_id)
        with self.db as uow:
            found = domain.answers_csv(uow, actor, consultation_id)
        return dump(api.AnswersCsvSchema, found)

    # --- moderation ---------------------------------------------------------------------

    @rpc
    def list_texts(self, actor, consultation_id, status=None, page=1, per_page=20):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        query = load(
            api.TextListQuerySchema, {"status": status, "page": page, "per_page": per_page}
        )
        with self.db as uow:
            found = domain.list_texts(uow, actor, consultation_id, **query)
        return dump(api.TextListSchema, found)

    @rpc(command=True)
    def moderate_text(self, actor, consultation_id, answer_id, payload):
        actor = load_actor(actor)
        consultation_id = clean_id("consultation_id", consultation_id)
        answer_id = clean_id("answer_id", answer_id)
        data = load(api.TextDecisionSchema, payload)
        with self.db as uow:
            found = domain.moderate_text(uow, actor, consultation_id, answer_id, **data)
        return dump(api.TextEntrySchema, found)

    # --- the moments: opening and closing -----------------------------------------------

    @timer("CIVIC_EXPIRY_INTERVAL")
    def open_and_close(self):
        """Open the scheduled consultations whose moment has come and close those whose
        closing moment has: each in its own short transaction, each exactly once
        whatever the number of instances (conditional updates, see domain.py)."""
        now = utcnow()
        with self.db as uow:
            to_open = domain.due_to_open(uow, now)
        opened = 0
        for consultation_id in to_open:
            with self.db as uow:
                opened += domain.open_if_due(uow, consultation_id, now)
        with self.db as uow:
            to_close = domain.due_to_close(uow, now)
        closed = 0
        for consultation_id in to_close:
            with self.db as uow:
                closed += domain.close_if_due(uow, consultation_id, now)
        if to_open or to_close:
            log.info("consultations_timer", opened=opened, closed=closed)

    # --- personal data ------------------------------------------------------------------

    @rpc
    def export_account(self, account_id):
        account_id = clean_id("account_id", account_id)
        with self.db as uow:
            return domain.export_account(uow, account_id)

    @event_handler("groups", "account_erased", name="on_account_erased")
    def on_account_erased(self, envelope, uow):
        domain.erase_account(uow.session, envelope.data["account_id"])
