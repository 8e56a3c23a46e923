"""EHR link settings: read from CLINIC_EHR_* variables and the [ehr] table of CLINIC_CONFIG.

The same loader as clinic.config.Settings (pydantic-settings; keyword arguments > environment
> file > defaults); an empty variable means "not set" (None) for every key here.

Every part is off until configured: no FHIR base URL, no HL7 peer, no listener port.
Credentials (the SMART private key) live on the server only; kiosks never see them.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from clinic.config import LayeredSettings

ENV_PREFIX = "CLINIC_EHR_"


class EhrSettings(LayeredSettings):
    """Where the EHR is and how to talk to it; all parts off by default."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_parse_none_str="",
        extra="forbid",
        frozen=True,
        hide_input_in_errors=True,
    )
    toml_table: ClassVar[str | None] = "ehr"

    # FHIR R4 (schedule in, arrivals and status changes out, optional feedback out)
    fhir_base_url: str | None = None
    #: SMART Backend Services: token endpoint, client id, PEM private key file, algorithm.
    smart_token_url: str | None = None
    smart_client_id: str | None = None
    smart_private_key_file: str | None = None
    smart_key_id: str | None = None
    smart_algorithm: Literal["RS384", "ES384"] = "RS384"
    smart_scope: str = "system/Appointment.rs system/Appointment.u system/Patient.rs"
    #: Pull today's and tomorrow's appointments every N seconds (0: only on demand).
    schedule_poll_seconds: int = Field(default=300, ge=0)
    #: Rating as QuestionnaireResponse, question + answer as Communication.
    send_feedback: bool = False
    #: A rating waits this long before it is sent, so its survey details go with it.
    feedback_delay_seconds: float = Field(default=900.0, ge=0)

    # HL7 v2 over MLLP (arrivals out as ADT^A10 / A04, SIU in)
    hl7_host: str | None = None
    hl7_port: int | None = Field(default=None, ge=1, le=65535)
    hl7_sending_application: str = "KIOSK"
    hl7_sending_facility: str = "CLINIC"
    hl7_receiving_application: str = "EHR"
    hl7_receiving_facility: str = "CLINIC"
    #: Port of the SIU listener (None: no listener).
    siu_listen_host: str = "127.0.0.1"
    siu_listen_port: int | None = Field(default=None, ge=0, le=65535)

    # Delivery
    #: Run the delivery worker in the server process (else: `clinic-server ehr-worker`).
    worker_in_server: bool = True
    request_timeout_seconds: float = Field(default=10.0, gt=0)
    retry_base_seconds: float = Field(default=1.0, gt=0)
    retry_cap_seconds: float = Field(default=300.0, gt=0)
    #: A message still undelivered after this long is given up (with its reason, shown).
    give_up_after_seconds: float = Field(default=24 * 3600, gt=0)
    #: How often an idle worker looks for work it was not woken for (other processes).
    poll_seconds: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=50, ge=1)
    #: How often a server process looks for settings another process saved on the admin page.
    config_check_seconds: float = Field(default=30.0, gt=0)
    #: Sent messages are deleted this many days after they were sent (refused ones stay).
    keep_done_days: int = Field(default=30, ge=1)

    @property
    def fhir_enabled(self) -> bool:
        """Return whether a FHIR server is configured."""
        return bool(self.fhir_base_url)

    @property
    def hl7_enabled(self) -> bool:
        """Return whether an HL7 v2 peer is configured for outbound messages."""
        return bool(self.hl7_host and self.hl7_port)

    @property
    def enabled(self) -> bool:
        """Return whether any outbound target is configured."""
        return self.fhir_enabled or self.hl7_enabled

    @property
    def targets(self) -> tuple[str, ...]:
        """Return the outbound targets in use."""
        return tuple(
            name for name, on in (("fhir", self.fhir_enabled), ("hl7", self.hl7_enabled)) if on
        )
