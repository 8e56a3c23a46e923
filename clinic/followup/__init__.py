"""The patient follow-up page opened from the kiosk's QR code."""

from clinic.followup.router import router

__all__ = ["router"]
