"""HL7 v2.5 messages and MLLP transport.

Messages we build are built and validated with hl7apy; messages we receive (ACKs, SIU) are
read with python-hl7, which unescapes field values.
Out: ADT^A10 (arrival for an appointment), ADT^A04 (walk-in registration), ADT^A03 (seen:
end of visit), ADT^A11 (no-show after arrival: the visit is cancelled). In: SIU^S12..S26,
answered with an ACK (see clinic.ehr.schedule). Field values are set through hl7apy, which
escapes the delimiters; no message text is put together by hand.
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
    """Return the ER7 text of the ADT message for an arrival or status change."""
    trigger, structure = ADT_EVENTS[event]
    message = Message(structure, version=VERSION)
    msh = message.msh
    msh.msh_3.hd_1 = sending_application
    msh.msh_4.hd_1 = sending_facility
    msh.msh_5.hd_1 = receiving_application
    msh.msh_6.hd_1 = receiving_facility
    msh.msh_7.ts_1 = hl7_timestamp(now)
    msh.msh_9.msg_1 = "ADT"
    msh.msh_9.msg_2 = trigger
    msh.msh_9.msg_3 = structure
    msh.msh_10 = control_id
    msh.msh_11.pt_1 = "P"
    msh.msh_15 = "AL"  # accept acknowledgement: always
    message.evn.evn_2.ts_1 = hl7_timestamp(at)
    message.evn.evn_6.ts_1 = hl7_timestamp(at)
    pid = message.pid
    pid.pid_3.cx_1 = patient.patient_id
    pid.pid_3.cx_4.hd_1 = patient.assigning_authority
    pid.pid_5.xpn_1.fn_1 = patient.last_name
    pid.pid_5.xpn_2 = patient.first_name
    if patient.date_of_birth is not None:
        pid.pid_7.ts_1 = patient.date_of_birth.strftime("%Y%m%d")
    message.pv1.pv1_2 = "O"  # outpatient
    message.pv1.pv1_19.cx_1 = patient.visit_number
    message.validate()
    return str(message.to_er7())


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
