"""The stages of a case and the transitions allowed between them, as data (pure: no I/O).

The forward chain is 线索 → 立案 → 调查取证 → 诉前检察建议/公告 → 跟踪问效 → 提起诉讼 → 执行监督 → 结案::

    clue → filed → investigation → recommendation → follow-up → litigation → enforcement → closed

Shortcuts and the one way back, each for a reason that happens in practice:

- ``recommendation → litigation``: the reply period (administrative) or the 30-day notice (civil) ran out with
  nothing done, so the procuratorate sues without a separate follow-up step;
- ``recommendation → closed``: the agency fixed it (or the civil notice found another plaintiff);
- ``follow-up → recommendation`` (the only way back): the rectification was inadequate and a further
  recommendation is issued; it gets a new deadline;
- ``litigation → closed``: the suit was withdrawn after rectification, or the judgment needs no enforcement;
- ``any stage → closed``: always allowed, but only with a reason (the transition's ``note``).

``closed`` is final: a reopened matter is a new case. Nothing else goes backwards, and no stage moves to itself.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Stage = Literal["clue", "filed", "investigation", "recommendation", "follow-up", "litigation", "enforcement", "closed"]
STAGES: Final[tuple[Stage, ...]] = get_args(Stage)
FIRST_STAGE: Final[Stage] = "clue"
CLOSED: Final[Stage] = "closed"

_FORWARD: Final[dict[Stage, tuple[Stage, ...]]] = {
    "clue": ("filed",),
    "filed": ("investigation",),
    "investigation": ("recommendation",),
    "recommendation": ("follow-up", "litigation"),
    "follow-up": ("litigation", "recommendation"),
    "litigation": ("enforcement",),
    "enforcement": (),
    "closed": (),
}

TRANSITIONS: Final[dict[Stage, tuple[Stage, ...]]] = {
    stage: nexts if stage == CLOSED else (*nexts, CLOSED) for stage, nexts in _FORWARD.items()
}
"""For every stage, the stages it may move to, in the order a person would consider them."""
_BY_NAME: Final[dict[str, tuple[Stage, ...]]] = {str(stage): nexts for stage, nexts in TRANSITIONS.items()}


def next_stages(stage: str) -> tuple[Stage, ...]:
    """The stages a case in ``stage`` may move to (none for an unknown stage)."""
    return _BY_NAME.get(stage, ())


def is_allowed(current: str, target: str) -> bool:
    """Whether a case in ``current`` may move to ``target``."""
    return target in next_stages(current)


def needs_reason(target: str) -> bool:
    """Closing a case always needs a reason (the transition's note)."""
    return target == CLOSED
