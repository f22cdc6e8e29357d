"""Start elements: the profile-import triggers and the built-in default capture.

An import trigger fires when a profile is created by an import of its source
(or, with ``on_update``, also when an import updates an existing profile).
The default capture takes API engagement, manual adds, dynamic segments sent
to the scenario and jumps from other scenarios.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from scenaria.model.nodes.base import NodeGroup, NodeKind, Settings
from scenaria.model.profiles import ImportSource


class TriggerSettings(Settings):
    on_update: bool = Field(
        default=False,
        title="Also when an existing profile is updated",
        description="Otherwise only a profile the import creates enters.",
    )
    """Also fire when an import updates a profile that already existed."""


class DefaultCaptureSettings(Settings):
    pass


class _ImportTrigger(NodeKind[TriggerSettings]):
    group = NodeGroup.TRIGGER
    settings_model = TriggerSettings
    start = True


class AnyImport(_ImportTrigger):
    name = "trigger_any_import"
    title = "Any profile import"
    sources: ClassVar[frozenset[ImportSource]] = frozenset(ImportSource)


class ManualImport(_ImportTrigger):
    name = "trigger_manual_import"
    title = "Manual profile import"
    sources: ClassVar[frozenset[ImportSource]] = frozenset({ImportSource.MANUAL})


class ApiImport(_ImportTrigger):
    name = "trigger_api_import"
    title = "API profile import"
    sources: ClassVar[frozenset[ImportSource]] = frozenset({ImportSource.API})


class FormImport(_ImportTrigger):
    name = "trigger_form_import"
    title = "Form import"
    sources: ClassVar[frozenset[ImportSource]] = frozenset({ImportSource.FORM})


class PopupImport(_ImportTrigger):
    name = "trigger_popup_import"
    title = "Pop-up import"
    sources: ClassVar[frozenset[ImportSource]] = frozenset({ImportSource.POPUP})


class DefaultCapture(NodeKind[DefaultCaptureSettings]):
    name = "default_capture"
    title = "Default profile capture"
    group = NodeGroup.TRIGGER
    settings_model = DefaultCaptureSettings
    start = True
