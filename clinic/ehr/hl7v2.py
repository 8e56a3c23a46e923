"""HL7 v2.5 messages and MLLP transport.

Outbound ADT messages are joined by python-hl7's containers from escaped values (fast);
ACKs are built with hl7apy; messages we receive (ACKs, SIU) are read with python-hl7, which
unescapes field values.
Out: ADT^A10 (arrival for an appointment), ADT^A04 (walk-in registration), ADT^A03 (seen:
end of visit), ADT^A11 (no-show after arrival: the visit is cancelled). In: SIU^S12..S26,
answered with an ACK (see clinic.ehr.schedule). Every field value goes through `escape`
(or hl7apy's own escaping); no value reaches the text unescaped.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import date, datetime

import hl7
from hl7apy.core import Message

from clinic.ehr.models import EventKind
from clinic.ehr.queue import Delivered, Refused, Retry, SendResult

VERSION = "2.5"
# MLLP block framing (HL7 v2 Minimal Lower Layer Protocol, release 2).
START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
MAX_ACK_BYTES = 1 << 20

#: Outbound event -> (trigger, message structure).
ADT_EVENTS: dict[EventKind, tuple[str, str]] = {
    EventKind.ARRIVED: ("A10", "ADT_A09"),
    EventKind.WALK_IN: ("A04", "ADT_A01"),
    EventKind.SEEN: ("A03", "ADT_A03"),
    EventKind.NO_SHOW: ("A11", "ADT_A09"),
}


@dataclass(frozen=True)
class Hl7Patient:
    patient_id: str
    assigning_authority: str
    last_name: str
    first_name: str
    date_of_birth: date | None
    visit_number: str


def hl7_timestamp(moment: datetime) -> str:
    """Return an HL7 TS with seconds and UTC offset (e.g. 20260301093000+0100)."""
    return moment.strftime("%Y%m%d%H%M%S%z")


#: HL7 v2 escape sequences of the delimiters (section 2.7.1), the escape character first.
_ESCAPES = (
    ("\\", "\\E\\"),
    ("|", "\\F\\"),
    ("^", "\\S\\"),
    ("&", "\\T\\"),
    ("~", "\\R\\"),
    ("\r", "\\X0D\\"),
    ("\n", "\\X0A\\"),
)


def escape(value: str) -> str:
    """Escape HL7's delimiters in one field value; other text (UTF-8) is sent as it is."""
    for char, sequence in _ESCAPES:
        value = value.replace(char, sequence)
    return value


def _field(*components: str) -> hl7.Field:
    # One repetition of `components`; python-hl7 joins repetitions with ~, components with ^.
    return hl7.Field("~", [hl7.Repetition("^", [escape(c) for c in components])])


def build_adt(
    *,
    event: EventKind,
    control_id: str,
    patient: Hl7Patient,
    at: datetime,
    now: datetime,
    sending_application: str,
    sending_facility: str,
    receiving_application: str,
    receiving_facility: str,
) -> str:
    """Return the ER7 text of the ADT message for an arrival or status change.

    python-hl7's containers join the segments, fields and components; every value goes
    through `escape`. Built this way a message takes tens of microseconds, where building
    it node by node with hl7apy took ~20 ms (bench/ehr.py); tests/ehr checks that both give
    the same text and that hl7apy validates it against the v2.5 structure.
    """
    trigger, structure = ADT_EVENTS[event]
    at_ts = hl7_timestamp(at)
    msh = hl7.Segment(
        "|",
        [
            "MSH",
            "|",
            "^~\\&",
            _field(sending_application),
            _field(sending_facility),
            _field(receiving_application),
            _field(receiving_facility),
            hl7_timestamp(now),
            "",
            _field("ADT", trigger, structure),
            escape(control_id),
            "P",
            VERSION,
            "",
            "",
            "AL",  # accept acknowledgement: always
        ],
    )
    evn = hl7.Segment("|", ["EVN", "", at_ts, "", "", "", at_ts])
    pid = hl7.Segment(
        "|",
        [
            "PID",
            "",
            "",
            _field(patient.patient_id, "", "", patient.assigning_authority),
            "",
            _field(patient.last_name, patient.first_name),
            # PID-6 empty, PID-7 birth date; a segment ends at its last valued field.
            *(["", patient.date_of_birth.strftime("%Y%m%d")] if patient.date_of_birth else []),
        ],
    )
    pv1 = hl7.Segment("|", ["PV1", "", "O", *[""] * 16, escape(patient.visit_number)])
    return "\r".join(str(segment) for segment in (msh, evn, pid, pv1))


def frame(er7: str) -> bytes:
    """Wrap one message in MLLP block characters."""
    return START_BLOCK + er7.encode("utf-8") + END_BLOCK


def read_frame(sock: socket.socket) -> bytes | None:
    """Read one MLLP block from `sock`; None when the peer closed first."""
    buffer = b""
    while END_BLOCK not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        buffer += chunk
        if len(buffer) > MAX_ACK_BYTES:
            raise ValueError("MLLP block larger than 1 MiB")
    start = buffer.find(START_BLOCK)
    return buffer[start + 1 : buffer.index(END_BLOCK)]


class MllpConnection:
    """One persistent MLLP connection; reconnects on the next send after any failure."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._sock: socket.socket | None = None

    def send(self, er7: str, control_id: str) -> SendResult:
        """Send one message and wait for its ACK; map the ACK code to a queue result."""
        try:
            if self._sock is None:
                self._sock = socket.create_connection((self.host, self.port), self.timeout)
                self._sock.settimeout(self.timeout)
            self._sock.sendall(frame(er7))
            raw = read_frame(self._sock)
        except (OSError, ValueError) as exc:
            self.close()
            return Retry(f"HL7 peer {self.host}:{self.port}: {type(exc).__name__}: {exc}")
        if raw is None:
            self.close()
            return Retry(f"HL7 peer {self.host}:{self.port} closed the connection before the ACK")
        return ack_result(raw.decode("utf-8", errors="replace"), control_id)

    def close(self) -> None:
        """Close the connection (the next send reconnects)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


def ack_result(ack_er7: str, control_id: str) -> SendResult:
    """Read an ACK: AA/CA delivered; AE/AR/CE/CR refused with the peer's reason."""
    try:
        ack = hl7.parse(ack_er7.replace("\n", "\r"))
        code = str(ack.extract_field("MSA", 1, 1))
        acked_id = str(ack.extract_field("MSA", 1, 2))
        text = str(ack.extract_field("MSA", 1, 3))
        segments = {str(segment[0]) for segment in ack}
        err = str(ack.extract_field("ERR", 1, 8)) if "ERR" in segments else ""
    except Exception as exc:  # noqa: BLE001 - any unreadable answer is retried
        return Retry(f"unreadable ACK ({type(exc).__name__})")
    if acked_id != control_id:
        return Retry(f"ACK for another message ({acked_id!r}, expected {control_id!r})")
    if code in ("AA", "CA"):
        return Delivered(f"HL7 {code}")
    reason = text or err or "no reason given"
    return Refused(f"HL7 {code}: {reason}")


def build_ack(
    *,
    code: str,
    text: str,
    acked_control_id: str,
    trigger: str,
    their_application: str,
    their_facility: str,
    control_id: str,
    now: datetime,
    sending_application: str,
    sending_facility: str,
) -> str:
    """Return the ER7 of an ACK (AA, AE or AR with the reason) for a received message."""
    ack = Message("ACK", version=VERSION)
    ack.msh.msh_3.hd_1 = sending_application
    ack.msh.msh_4.hd_1 = sending_facility
    ack.msh.msh_5.hd_1 = their_application
    ack.msh.msh_6.hd_1 = their_facility
    ack.msh.msh_7.ts_1 = hl7_timestamp(now)
    ack.msh.msh_9.msg_1 = "ACK"
    if trigger:
        ack.msh.msh_9.msg_2 = trigger
    ack.msh.msh_9.msg_3 = "ACK"
    ack.msh.msh_10 = control_id
    ack.msh.msh_11.pt_1 = "P"
    ack.msa.msa_1 = code
    ack.msa.msa_2 = acked_control_id
    if text:
        ack.msa.msa_3 = text[:80]
    return str(ack.to_er7())
