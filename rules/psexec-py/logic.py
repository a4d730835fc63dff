"""The PsExec service installation rule without its WebAssembly bindings.

Everything here is plain Python, so it can be imported and tested outside the component:

- the rule's declaration, as constants that `app.describe` turns into the contract's records;
- a decoder for the host's packed event batches (`vigil:rule/types.event-batch`);
- the predicate of the rule's one subpattern, `Filter`;
- the aggregate constraint, `COUNT(*) >= 1`.

The predicate follows SigmaHQ's "PsExec Service Installation"
(42c575ea-e41e-41f1-b248-8093c3e82a28):

    eventType = "Win-System-Service-Control-Manager-7045"
    AND (serviceName = "PSEXESVC" OR serviceFileName ends with "\\PSEXESVC.exe")

The service name and image path are compared case-insensitively (casefolded), as Sigma compares
strings. The event type is FortiSIEM's normalised name for Sigma's `Provider_Name` and `EventID`
and is compared exactly, as the host routes on it (`event-types`): a predicate looser than the
routing hint would accept events the host may never pass.
"""

import struct
from typing import Iterator, List, Optional, Sequence, Tuple, Union

# --- Declaration -------------------------------------------------------------------------------

RULE_ID = "SIGMA_42c575ea_PsExec_Service_Installation"
NAME = "Windows: PsExec Service Installation"
DESCRIPTION = (
    "Detects the installation of the PSEXESVC service, which Sysinternals PsExec creates on a "
    "target host to run commands there. PsExec copies PSEXESVC.exe to the hidden ADMIN$ share "
    "over SMB and starts it through the Service Control Manager, so the target logs a Service "
    "Control Manager event 7045 naming the service or its image. Attackers use PsExec for "
    "lateral movement and remote execution with stolen credentials. Adapted from SigmaHQ's "
    "\"PsExec Service Installation\" (id 42c575ea-e41e-41f1-b248-8093c3e82a28, author Thomas "
    "Patzke); like Sigma, it compares the service name and image path case-insensitively."
)
SEVERITY = 5
CATEGORY = "Security"
TACTICS = ("TA0002",)
TECHNIQUES = ("T1569.002",)
REMEDIATION = (
    "Find who ran PsExec against the host and from where: the logon events around the service "
    "installation name the account and the source. Administrators use PsExec legitimately; if "
    "this use was not expected, treat the account as compromised, reset its credentials, and "
    "check the source host and the commands that ran on the target. If necessary, rebuild the "
    "host from a known, good source."
)
DATA_SOURCE = "Windows System Log"
VERSION = "1.0.0"
WINDOW_SECONDS = 300

SUBPATTERN = "Filter"
SERVICE_INSTALLED = "Win-System-Service-Control-Manager-7045"
# FortiSIEM's `=` and REGEXP are case-sensitive; `(?i)` states Sigma's case-insensitivity.
QUERY = (
    r'(eventType="Win-System-Service-Control-Manager-7045") AND '
    r'(serviceName REGEXP "(?i)^PSEXESVC$" OR serviceFileName REGEXP "(?i)\\PSEXESVC\.exe$")'
)
GROUP_BY = ("hostName", "serviceFileName", "serviceName")
READS = ("eventType", "serviceName", "serviceFileName")
EVENT_TYPES = (SERVICE_INSTALLED,)
CONSTRAINT = "COUNT(*) >= 1"
# Each incident attribute is copied from the group-by attribute of the same name in `Filter`.
INCIDENT_ATTRIBUTES = GROUP_BY

# With one subpattern, the attributes of each encoded event are exactly `READS`, in order.
EVENT_TYPE = READS.index("eventType")
SERVICE_NAME = READS.index("serviceName")
SERVICE_FILE_NAME = READS.index("serviceFileName")

# Sigma compares case-insensitively; both sides are casefolded.
_PSEXESVC = "PSEXESVC".casefold()
_PSEXESVC_IMAGE_SUFFIX = "\\PSEXESVC.exe".casefold()

# --- Batch decoding ----------------------------------------------------------------------------

# Value tags of the encoding documented on `event-batch`.
NULL = 0
STRING = 1
INTEGER = 2
FLOAT = 3
BOOLEAN = 4

# Payload sizes of the fixed-size tags.
_FIXED_SIZE = {NULL: 0, INTEGER: 8, FLOAT: 8, BOOLEAN: 1}
_U32 = struct.Struct("<I")
_S64 = struct.Struct("<q")
_F64 = struct.Struct("<d")

Value = Union[None, str, int, float, bool]


class BatchError(ValueError):
    """A batch buffer that does not follow the contract's encoding."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"malformed event batch at byte {offset}: {reason}")
        self.offset = offset
        self.reason = reason


class Event:
    """One event of a batch: where each of its values lies in the batch buffer.

    Values are located, not converted: a string is decoded only when `text` or `value` asks
    for it, straight from the shared buffer, so a string that is never read is never checked
    for valid UTF-8.
    """

    __slots__ = ("_view", "_spans")

    def __init__(self, view: memoryview, spans: List[Tuple[int, int, int]]) -> None:
        self._view = view
        # One `(tag, payload start, payload end)` per input attribute.
        self._spans = spans

    def tag(self, index: int) -> int:
        """The tag of attribute `index`'s value."""
        return self._spans[index][0]

    def text(self, index: int) -> Optional[str]:
        """Attribute `index` if it is a string, else `None`."""
        tag, start, end = self._spans[index]
        if tag != STRING:
            return None
        try:
            return str(self._view[start:end], "utf-8")
        except UnicodeDecodeError:
            raise BatchError(start, "string is not UTF-8") from None

    def value(self, index: int) -> Value:
        """Attribute `index` as a Python value; `None` for null."""
        tag, start, _ = self._spans[index]
        if tag == STRING:
            return self.text(index)
        if tag == INTEGER:
            return _S64.unpack_from(self._view, start)[0]
        if tag == FLOAT:
            return _F64.unpack_from(self._view, start)[0]
        if tag == BOOLEAN:
            return self._view[start] != 0
        return None


def events(count: int, data: Union[bytes, bytearray, memoryview], width: int) -> Iterator[Event]:
    """The `count` events encoded in `data`, each with `width` values, in order.

    Walks the buffer once, checking its structure as it goes: every tag is known, no value runs
    past the end, and no byte is left after the last event. A fault raises `BatchError` when
    the walk reaches it, so events before it have already been yielded.
    """
    view = memoryview(data)
    size = len(view)
    unpack_u32 = _U32.unpack_from
    fixed_size = _FIXED_SIZE
    position = 0
    for _ in range(count):
        spans = []
        for _ in range(width):
            if position >= size:
                raise BatchError(position, "truncated value")
            tag = view[position]
            start = position + 1
            if tag == STRING:
                if start + 4 > size:
                    raise BatchError(start, "truncated value")
                start += 4
                end = start + unpack_u32(view, position + 1)[0]
            elif tag in fixed_size:
                end = start + fixed_size[tag]
            else:
                raise BatchError(position, "unknown value tag")
            if end > size:
                raise BatchError(start, "truncated value")
            spans.append((tag, start, end))
            position = end
        yield Event(view, spans)
    if position != size:
        raise BatchError(position, "bytes left after the last event")


# --- Matching ----------------------------------------------------------------------------------


def matches(event: Event) -> bool:
    """Whether `event` is a PsExec service installation (subpattern `Filter`).

    Reads lazily: the service attributes are decoded only for service installation events, and
    the image path only when the service name did not already decide.
    """
    if event.text(EVENT_TYPE) != SERVICE_INSTALLED:
        return False
    service_name = event.text(SERVICE_NAME)
    if service_name is not None and service_name.casefold() == _PSEXESVC:
        return True
    image_path = event.text(SERVICE_FILE_NAME)
    return image_path is not None and image_path.casefold().endswith(_PSEXESVC_IMAGE_SUFFIX)


def match_batch(count: int, data: Union[bytes, bytearray, memoryview]) -> List[int]:
    """Indices of the events of a batch that match `Filter`; raises `BatchError` if malformed."""
    return [
        index
        for index, event in enumerate(events(count, data, len(READS)))
        if matches(event)
    ]


def constraint_holds(counts: Sequence[Tuple[int, int]]) -> bool:
    """`COUNT(*) >= 1` over `Filter`, given `(subpattern index, event count)` per window."""
    return any(subpattern == 0 and count >= 1 for subpattern, count in counts)
