"""The staff console's proposal screens: the drop-in desk, the proposals board and the
moderation queue. Staff only. A mixin of `GatewayService`."""

from __future__ import annotations


class StaffDeskPages:
    """Entrypoints of the drop-in desk, the proposals board and moderation."""
