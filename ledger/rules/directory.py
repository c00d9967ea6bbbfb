"""Directory profiles: their one domain rule, that every offered process and handled material
is in the catalogue.
"""

from __future__ import annotations

from ledger.directory_event import ProfileEvent
from ledger.rules.judge import Judge


class ProfileRules(Judge):
    """The rule of profile events."""

    def profile(self, event: ProfileEvent) -> None:
        """A profile offers only what the catalogue knows; it has no effects of its own."""
        for process in event.processes:
            self._process_type(process)
        for material in event.materials:
            self._material(material)
