"""Unit tests of the PsExec rule's decoder, predicate and declaration.

Run from this directory with `python3 -m unittest`, or from anywhere with
`python3 -m unittest discover -s rules/psexec-py`. The decoder and predicate tests need only
`logic.py`. The `app.py` tests import it against the stub bindings that `componentize-py
bindings` writes to a temporary directory, and are skipped when componentize-py is not found
(looked up as build.sh does).
"""

import importlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import logic  # noqa: E402

SERVICE_INSTALLED = "Win-System-Service-Control-Manager-7045"


def encode(*events):
    """Encodes events, each a sequence of Python values, as an `event-batch` buffer."""
    out = bytearray()
    for event in events:
        for value in event:
            if value is None:
                out += b"\x00"
            elif isinstance(value, bytes):  # raw string payload, possibly not UTF-8
                out += b"\x01" + struct.pack("<I", len(value)) + value
            elif isinstance(value, str):
                raw = value.encode()
                out += b"\x01" + struct.pack("<I", len(raw)) + raw
            elif isinstance(value, bool):
                out += b"\x04" + bytes([value])
            elif isinstance(value, int):
                out += b"\x02" + struct.pack("<q", value)
            elif isinstance(value, float):
                out += b"\x03" + struct.pack("<d", value)
            else:
                raise TypeError(value)
    return bytes(out)


def install(service_name, image_path, event_type=SERVICE_INSTALLED):
    """One event in the rule's input order: eventType, serviceName, serviceFileName."""
    return (event_type, service_name, image_path)


def matches(service_name, image_path, event_type=SERVICE_INSTALLED):
    return logic.match_batch(1, encode(install(service_name, image_path, event_type))) == [0]


class DecoderTest(unittest.TestCase):
    def test_decodes_every_tag(self):
        values = (None, "héllo", "", -(2**63), 2**63 - 1, 1.5, True, False)
        (event,) = logic.events(1, encode(values), len(values))
        self.assertEqual([event.value(i) for i in range(len(values))], list(values))
        self.assertEqual(event.tag(0), logic.NULL)
        self.assertEqual(event.tag(1), logic.STRING)
        self.assertEqual(event.text(1), "héllo")
        self.assertIsNone(event.text(3), "an integer is not text")

    def test_walks_events_in_order(self):
        data = encode(("a", 1), (None, 2), ("c", None))
        decoded = [(event.value(0), event.value(1)) for event in logic.events(3, data, 2)]
        self.assertEqual(decoded, [("a", 1), (None, 2), ("c", None)])

    def test_accepts_memoryview_and_bytearray(self):
        data = encode(("x",))
        for buffer in (memoryview(data), bytearray(data)):
            (event,) = logic.events(1, buffer, 1)
            self.assertEqual(event.text(0), "x")

    def test_empty_batch(self):
        self.assertEqual(list(logic.events(0, b"", 3)), [])
        self.assertEqual(logic.match_batch(0, b""), [])

    def assert_malformed(self, count, data, width, offset, reason):
        with self.assertRaises(logic.BatchError) as caught:
            list(logic.events(count, data, width))
        self.assertEqual((caught.exception.offset, caught.exception.reason), (offset, reason))
        self.assertEqual(
            str(caught.exception), f"malformed event batch at byte {offset}: {reason}"
        )

    def test_rejects_unknown_tag(self):
        self.assert_malformed(1, b"\x00\x07", 2, 1, "unknown value tag")

    def test_rejects_truncated_values(self):
        self.assert_malformed(1, b"\x01\x05\x00", 1, 1, "truncated value")  # short length
        self.assert_malformed(1, b"\x01\x05\x00\x00\x00abc", 1, 5, "truncated value")
        self.assert_malformed(1, b"\x02\x01\x02", 1, 1, "truncated value")
        self.assert_malformed(1, b"\x04", 1, 1, "truncated value")

    def test_rejects_fewer_events_than_count(self):
        self.assert_malformed(2, encode(("a",)), 1, 6, "truncated value")

    def test_rejects_bytes_after_the_last_event(self):
        self.assert_malformed(1, encode(("a",)) + b"\x00", 1, 6, "bytes left after the last event")

    def test_strings_are_checked_for_utf8_when_read(self):
        (event,) = logic.events(1, encode((b"\xff\xfe", "ok")), 2)
        self.assertEqual(event.text(1), "ok")
        with self.assertRaises(logic.BatchError) as caught:
            event.text(0)
        self.assertEqual(caught.exception.offset, 5)


class PredicateTest(unittest.TestCase):
    def test_service_name_matches_case_insensitively(self):
        for name in ("PSEXESVC", "psexesvc", "PsExeSvc"):
            self.assertTrue(matches(name, None), name)
        for name in ("PSEXESVC2", "xPSEXESVC", "PSEXESVC ", "PAExec-1-HOST", ""):
            self.assertFalse(matches(name, None), name)

    def test_image_path_suffix_matches_case_insensitively(self):
        for path in (
            r"%SystemRoot%\PSEXESVC.exe",
            r"C:\Windows\psexesvc.EXE",
            "\\PSEXESVC.exe",
        ):
            self.assertTrue(matches("Renamed", path), path)
        for path in (
            "PSEXESVC.exe",  # no separator before the name
            r"C:\Windows\xPSEXESVC.exe",
            r"C:\Windows\PSEXESVC.exe -s",
            r"C:\Windows\PSEXESVC.exe.bak",
            "",
        ):
            self.assertFalse(matches("Renamed", path), path)

    def test_needs_the_service_installation_event_type_exactly(self):
        self.assertFalse(matches("PSEXESVC", None, event_type="Win-System-Service-Control-Manager-7036"))
        self.assertFalse(matches("PSEXESVC", None, event_type=SERVICE_INSTALLED.lower()))
        self.assertFalse(matches("PSEXESVC", None, event_type=None))
        self.assertFalse(matches("PSEXESVC", None, event_type=7045))

    def test_nulls_and_non_strings_never_match(self):
        self.assertFalse(matches(None, None))
        self.assertFalse(matches(7045, 1.0))
        self.assertFalse(matches(True, False))

    def test_image_path_is_not_read_when_the_service_name_decides(self):
        data = encode(install("PSEXESVC", b"\xff"))
        self.assertEqual(logic.match_batch(1, data), [0])
        with self.assertRaises(logic.BatchError):
            logic.match_batch(1, encode(install("Renamed", b"\xff")))

    def test_match_batch_returns_matching_indices(self):
        data = encode(
            install("PSEXESVC", r"%SystemRoot%\PSEXESVC.exe"),
            install("Spooler", r"C:\Windows\System32\spoolsv.exe"),
            install(None, r"C:\Windows\PSEXESVC.exe", event_type="Win-Security-4697"),
            install("Renamed", r"C:\Windows\PSEXESVC.EXE"),
            install(None, None, event_type=None),
        )
        self.assertEqual(logic.match_batch(5, data), [0, 3])


class DeclarationTest(unittest.TestCase):
    def test_predicate_reads_match_the_declaration(self):
        self.assertEqual(logic.READS, ("eventType", "serviceName", "serviceFileName"))
        self.assertEqual(logic.EVENT_TYPES, (SERVICE_INSTALLED,))
        self.assertTrue(set(logic.INCIDENT_ATTRIBUTES) <= set(logic.GROUP_BY))

    def test_constraint_is_at_least_one_filter_event(self):
        self.assertFalse(logic.constraint_holds([]))
        self.assertFalse(logic.constraint_holds([(0, 0)]))
        self.assertFalse(logic.constraint_holds([(1, 5)]))
        self.assertTrue(logic.constraint_holds([(0, 1)]))
        self.assertTrue(logic.constraint_holds([(0, 40)]))


def _componentize_py():
    """componentize-py, found as build.sh finds it, or `None`."""
    candidates = [
        os.environ.get("COMPONENTIZE_PY"),
        shutil.which("componentize-py"),
        str(HERE.parent.parent / ".venv" / "bin" / "componentize-py"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


class AppTest(unittest.TestCase):
    """`app.py` against componentize-py's stub bindings for the contract."""

    @classmethod
    def setUpClass(cls):
        tool = _componentize_py()
        if tool is None:
            raise unittest.SkipTest("componentize-py not found")
        cls._bindings = tempfile.TemporaryDirectory()
        subprocess.run(
            [tool, "--wit-path", str(HERE.parent.parent / "wit" / "0.1.0"),
             "--world", "detection-rule", "--quiet", "bindings", cls._bindings.name],
            check=True,
        )
        sys.path.insert(0, cls._bindings.name)
        cls.app = importlib.import_module("app")
        cls.types = importlib.import_module("wit_world.imports.types")
        cls.Err = importlib.import_module("componentize_py_types").Err

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls._bindings.name)
        for name in [n for n in sys.modules if n == "app" or n.split(".")[0] in
                     ("wit_world", "componentize_py_types", "componentize_py_async_support")]:
            del sys.modules[name]
        cls._bindings.cleanup()

    def test_describe(self):
        t = self.types
        info = self.app.Rule().describe()
        self.assertEqual(info, self.app.Rule().describe())
        self.assertEqual(info.metadata.id, "SIGMA_42c575ea_PsExec_Service_Installation")
        self.assertEqual(info.metadata.name, "Windows: PsExec Service Installation")
        self.assertEqual(info.metadata.severity, 5)
        self.assertEqual(info.metadata.category, "Security")
        self.assertEqual(info.metadata.tactics, ["TA0002"])
        self.assertEqual(info.metadata.techniques, ["T1569.002"])
        self.assertEqual(info.metadata.data_source, "Windows System Log")
        self.assertEqual(info.metadata.version, "1.0.0")
        self.assertEqual(info.window_seconds, 300)
        (filter_,) = info.subpatterns
        self.assertEqual(filter_.name, "Filter")
        self.assertEqual(filter_.group_by, ["hostName", "serviceFileName", "serviceName"])
        self.assertEqual(filter_.reads, ["eventType", "serviceName", "serviceFileName"])
        self.assertEqual(filter_.event_types, [SERVICE_INSTALLED])
        self.assertEqual(filter_.aggregates, [])
        self.assertEqual(filter_.constraint, "COUNT(*) >= 1")
        self.assertEqual(info.relation, t.Relation(operands=["Filter"], combinators=[], joins=[]))
        self.assertEqual(
            info.incident_attributes,
            [t.IncidentAttribute(name=n, source=t.AttributeRef(subpattern="Filter", attribute=n))
             for n in ("hostName", "serviceFileName", "serviceName")],
        )

    def test_match_batch(self):
        t = self.types
        data = encode(install("Spooler", None), install("psexesvc", None))
        hits = self.app.Rule().match_batch(t.EventBatch(count=2, data=data))
        self.assertEqual(hits, [t.Hit(event=1, subpattern=0)])

    def test_match_batch_fails_a_malformed_batch_with_err(self):
        batch = self.types.EventBatch(count=1, data=b"\x09")
        with self.assertRaises(self.Err) as caught:
            self.app.Rule().match_batch(batch)
        self.assertEqual(caught.exception.value, "malformed event batch at byte 0: unknown value tag")

    def test_aggregate(self):
        t = self.types

        def window(subpattern, count):
            return t.WindowAggregates(subpattern=subpattern, count=count, first_time_ms=0,
                                      last_time_ms=0, values=[])

        self.assertTrue(self.app.Rule().aggregate([window(0, 1)]))
        self.assertFalse(self.app.Rule().aggregate([]))
        self.assertFalse(self.app.Rule().aggregate([window(0, 0)]))


if __name__ == "__main__":
    unittest.main()
