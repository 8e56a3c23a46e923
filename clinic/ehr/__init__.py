"""EHR link: today's schedule in (FHIR R4, HL7 v2 SIU), arrivals and feedback out.

Everything bound for the EHR goes through the durable `ehr_outbox` table, written in the
same transaction as the change it reports; a worker thread delivers it (clinic.ehr.worker).
The kiosk never talks to the EHR and never holds its credentials.
"""
