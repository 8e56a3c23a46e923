"""An HL7 v2 peer over MLLP (run as its own process): the EHR's interface engine.

Every message is parsed with python-hl7 (a library we did not write and not the one that
built the message); each received message is appended to the JSON-lines file named by
argv[2] and answered with an ACK made by python-hl7: AA, or AR for an unknown patient
(PID-3 starting "UNKNOWN"), AE for a message missing PID or PV1. A control id seen before
is ACKed AA again and logged as a duplicate.

Usage: python mllp_peer.py PORT LOGFILE
"""

from __future__ import annotations

import json
import socketserver
import sys
import threading

import hl7

START, END = b"\x0b", b"\x1c\x0d"
seen: set[str] = set()
lock = threading.Lock()
log_file = open(sys.argv[2], "a", buffering=1)  # noqa: SIM115 - lives as long as the process


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        buffer = b""
        while True:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while END in buffer:
                block, buffer = buffer.split(END, 1)
                raw = block[block.find(START) + 1 :].decode("utf-8")
                self.request.sendall(START + self.answer(raw).encode("utf-8") + END)

    def answer(self, raw: str) -> str:
        try:
            message = hl7.parse(raw)
        except Exception as exc:  # noqa: BLE001
            log_file.write(json.dumps({"type": "unparseable", "error": str(exc)}) + "\n")
            raise
        control = str(message.extract_field("MSH", 1, 10))
        trigger = str(message.extract_field("MSH", 1, 9, 1, 2))
        entry: dict[str, object] = {
            "type": "message",
            "control_id": control,
            "event": f"{message.extract_field('MSH', 1, 9, 1, 1)}^{trigger}",
            "structure": str(message.extract_field("MSH", 1, 9, 1, 3)),
        }
        code, text = "AA", ""
        present = {str(segment[0]) for segment in message}
        if not {"PID", "PV1", "EVN"} <= present:
            code, text = "AE", "EVN, PID and PV1 are required"
        else:
            entry.update(
                patient_id=str(message.extract_field("PID", 1, 3, 1, 1)),
                family=str(message.extract_field("PID", 1, 5, 1, 1)),
                given=str(message.extract_field("PID", 1, 5, 1, 2)),
                birth_date=str(message.extract_field("PID", 1, 7)),
                visit=str(message.extract_field("PV1", 1, 19, 1, 1)),
                event_time=str(message.extract_field("EVN", 1, 2)),
            )
            if str(entry["patient_id"]).startswith("UNKNOWN"):
                code, text = "AR", "unknown patient"
        with lock:
            if code == "AA" and control in seen:
                entry["type"] = "duplicate"
            elif code == "AA":
                seen.add(control)
        entry["ack"] = code
        log_file.write(json.dumps(entry) + "\n")
        ack = str(message.create_ack(code, message_id=f"ACK{control}"[:20])).rstrip("\r")
        # MSA-3 (text message) follows MSA-2, the last field create_ack fills.
        return ack + ("|" + message.escape(text) if text else "")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", int(sys.argv[1])), Handler) as server:
        server.serve_forever()
