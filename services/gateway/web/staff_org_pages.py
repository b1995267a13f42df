"""The staff console's organisation and activity screens. Staff only. A mixin of
`GatewayService`."""

from __future__ import annotations


class StaffOrgPages:
    """Entrypoints of the organisations and activity screens."""
