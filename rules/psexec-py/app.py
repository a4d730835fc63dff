"""Vigil detection rule "Windows: PsExec Service Installation" as a WebAssembly component.

This module is the component's entry point: it exports the `vigil:rule/rule@0.1.0` interface
of the `detection-rule` world through the bindings that componentize-py generates while it
builds the component (`wit_world`). It only translates between those bindings and `logic`,
which holds the declaration, the batch decoder and the predicate as plain Python.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

import logic


def _filter(attribute: str) -> types.AttributeRef:
    return types.AttributeRef(subpattern=logic.SUBPATTERN, attribute=attribute)


def describe() -> types.RuleInfo:
    """The rule's declaration, built from `logic`'s constants."""
    return types.RuleInfo(
        metadata=types.Metadata(
            id=logic.RULE_ID,
            name=logic.NAME,
            description=logic.DESCRIPTION,
            severity=logic.SEVERITY,
            category=logic.CATEGORY,
            tactics=list(logic.TACTICS),
            techniques=list(logic.TECHNIQUES),
            remediation=logic.REMEDIATION,
            data_source=logic.DATA_SOURCE,
            version=logic.VERSION,
        ),
        window_seconds=logic.WINDOW_SECONDS,
        subpatterns=[
            types.Subpattern(
                name=logic.SUBPATTERN,
                query=logic.QUERY,
                group_by=list(logic.GROUP_BY),
                reads=list(logic.READS),
                event_types=list(logic.EVENT_TYPES),
                # `COUNT(*)` is the window's own event count; no extra aggregate is needed.
                aggregates=[],
                constraint=logic.CONSTRAINT,
            )
        ],
        relation=types.Relation(operands=[logic.SUBPATTERN], combinators=[], joins=[]),
        incident_attributes=[
            types.IncidentAttribute(name=name, source=_filter(name))
            for name in logic.INCIDENT_ATTRIBUTES
        ],
    )


class Rule(exports.Rule):
    """The `rule` export. Keeps no state between calls."""

    def describe(self) -> types.RuleInfo:
        return describe()

    def match_batch(self, batch: types.EventBatch) -> list[types.Hit]:
        try:
            matched = logic.match_batch(batch.count, batch.data)
        except logic.BatchError as error:
            raise Err(str(error)) from None
        return [types.Hit(event=index, subpattern=0) for index in matched]

    def aggregate(self, windows: list[types.WindowAggregates]) -> bool:
        return logic.constraint_holds([(window.subpattern, window.count) for window in windows])
