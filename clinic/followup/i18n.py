"""Texts of the patient follow-up page in each language the kiosk offers."""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your visit",
        "pending_title": "We are recording your visit",
        "pending_body": "This page updates shortly. You can keep it open.",
        "expired_title": "This link has expired",
        "expired_body": "For your privacy, follow-up links work only for a limited time. "
        "Please ask at the front desk if you need help.",
        "not_found_title": "Page not found",
        "not_found_body": "This link is not valid. Please check that you scanned the whole code.",
        "too_many_title": "Too many requests",
        "too_many_body": "Please wait a moment and try again.",
        "queue_title": "You are checked in",
        "queue_number": "Your number",
        "queue_place": "People before you",
        "queue_wait": "Estimated wait",
        "minutes": "{n} min",
        "status_waiting": "Please wait, we will call you.",
        "status_called_in": "It is your turn: please go to the front desk.",
        "status_called_room": "It is your turn: please go to {room}.",
        "wait_range": "{low}-{high} min",
        "reload": "Update now",
        "status_seen": "Your visit is complete. Thank you.",
        "status_no_show": "We called you but could not find you. Please ask at the front desk.",
        "auto_update": "This page updates by itself.",
        "question_title": "Your question",
        "answer_title": "Answer from the staff",
        "no_answer": "No answer yet. This page updates by itself.",
        "rating_title": "Thank you for your feedback",
        "survey_intro": "A few more questions help us improve (optional).",
        "q_ease_of_contact": "How easy was it to contact us?",
        "q_waiting_time": "How reasonable was the waiting time?",
        "q_politeness": "How polite and professional was the staff?",
        "q_kept_informed": "How well were you kept informed?",
        "q_overall": "Overall, how was your visit?",
        "q_would_recommend": "How likely are you to recommend us (0-10)?",
        "q_comment": "Anything else you want to tell us?",
        "score_1": "Very poor",
        "score_5": "Very good",
        "send": "Send",
        "survey_thanks": "Thank you: your answers are saved.",
        "callback_title": "Would you like us to call you back?",
        "callback_phone": "Phone number",
        "callback_send": "Request a call back",
        "callback_thanks": "Thank you: we will call you back.",
        "invalid_input": "Please check your answers: {detail}",
        "bad_phone": "the phone number may contain only digits, spaces, +, ( ) and -",
        "too_long": "the comment is too long",
        "bad_score": "a score is out of range",
    },
    "es": {
        "title": "Su visita",
        "pending_title": "Estamos registrando su visita",
        "pending_body": "Esta página se actualizará en breve. Puede dejarla abierta.",
        "expired_title": "Este enlace ha caducado",
        "expired_body": "Por su privacidad, los enlaces de seguimiento solo funcionan durante "
        "un tiempo limitado. Pregunte en recepción si necesita ayuda.",
        "not_found_title": "Página no encontrada",
        "not_found_body": "Este enlace no es válido. "
        "Compruebe que ha escaneado el código completo.",
        "too_many_title": "Demasiadas solicitudes",
        "too_many_body": "Espere un momento y vuelva a intentarlo.",
        "queue_title": "Se ha registrado su llegada",
        "queue_number": "Su número",
        "queue_place": "Personas delante de usted",
        "queue_wait": "Espera estimada",
        "minutes": "{n} min",
        "status_waiting": "Espere, por favor: le llamaremos.",
        "status_called_in": "Es su turno: acuda a recepción, por favor.",
        "status_called_room": "Es su turno: acuda a {room}, por favor.",
        "wait_range": "{low}-{high} min",
        "reload": "Actualizar ahora",
        "status_seen": "Su visita ha terminado. Gracias.",
        "status_no_show": "Le llamamos pero no le encontramos. Pregunte en recepción.",
        "auto_update": "Esta página se actualiza sola.",
        "question_title": "Su pregunta",
        "answer_title": "Respuesta del personal",
        "no_answer": "Todavía no hay respuesta. Esta página se actualiza sola.",
        "rating_title": "Gracias por su opinión",
        "survey_intro": "Unas preguntas más nos ayudan a mejorar (opcional).",
        "q_ease_of_contact": "¿Qué tan fácil fue contactarnos?",
        "q_waiting_time": "¿Qué tan razonable fue el tiempo de espera?",
        "q_politeness": "¿Qué tan amable y profesional fue el personal?",
        "q_kept_informed": "¿Le mantuvimos bien informado?",
        "q_overall": "En general, ¿cómo fue su visita?",
        "q_would_recommend": "¿Qué probabilidad hay de que nos recomiende (0-10)?",
        "q_comment": "¿Algo más que quiera decirnos?",
        "score_1": "Muy mal",
        "score_5": "Muy bien",
        "send": "Enviar",
        "survey_thanks": "Gracias: sus respuestas se han guardado.",
        "callback_title": "¿Quiere que le llamemos?",
        "callback_phone": "Número de teléfono",
        "callback_send": "Solicitar una llamada",
        "callback_thanks": "Gracias: le llamaremos.",
        "invalid_input": "Revise sus respuestas: {detail}",
        "bad_phone": "el teléfono solo puede contener dígitos, espacios, +, ( ) y -",
        "too_long": "el comentario es demasiado largo",
        "bad_score": "una puntuación está fuera de rango",
    },
}


def pick_language(language: str | None) -> str:
    """Return the supported language closest to a kiosk language code (es_MX -> es)."""
    if not language:
        return DEFAULT_LANGUAGE
    if language in MESSAGES:
        return language
    base = language.split("_", 1)[0]
    return base if base in MESSAGES else DEFAULT_LANGUAGE


def translator(language: str | None) -> dict[str, str]:
    """Return the message table for a language (falls back to English per message)."""
    chosen = MESSAGES[pick_language(language)]
    if chosen is MESSAGES[DEFAULT_LANGUAGE]:
        return chosen
    return {**MESSAGES[DEFAULT_LANGUAGE], **chosen}


def accept_language(header: str | None) -> str:
    """Return the first supported language from an Accept-Language header."""
    for part in (header or "").split(","):
        base = part.split(";", 1)[0].strip().replace("-", "_").split("_", 1)[0].lower()
        if base in MESSAGES:
            return base
    return DEFAULT_LANGUAGE
