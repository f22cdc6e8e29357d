"""The registry of node kinds: adding a kind is one module plus one line here."""

from __future__ import annotations

from typing import Any

from scenaria.model.nodes.api_request import ApiRequest
from scenaria.model.nodes.base import NodeGroup, NodeKind
from scenaria.model.nodes.condition import Condition
from scenaria.model.nodes.email import Email
from scenaria.model.nodes.exit import Exit
from scenaria.model.nodes.pause import Pause
from scenaria.model.nodes.promo_code import PromoCode
from scenaria.model.nodes.sms import Sms
from scenaria.model.nodes.triggers import (
    AnyImport,
    ApiImport,
    DefaultCapture,
    FormImport,
    ManualImport,
    PopupImport,
)
from scenaria.model.nodes.update_profile import UpdateProfile

KINDS: dict[str, NodeKind[Any]] = {
    kind.name: kind
    for kind in (
        AnyImport(),
        ManualImport(),
        ApiImport(),
        FormImport(),
        PopupImport(),
        DefaultCapture(),
        Email(),
        Sms(),
        Pause(),
        Condition(),
        Exit(),
        UpdateProfile(),
        PromoCode(),
        ApiRequest(),
    )
}

__all__ = ["KINDS", "NodeGroup", "NodeKind", "catalogue"]


def catalogue() -> list[dict[str, Any]]:
    """Every node kind with its group, outputs and settings schema, for editors."""
    return [kind.describe() for kind in KINDS.values()]
