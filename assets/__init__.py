"""Files the kiosk and the server ship: gettext catalogs, emergency words, logo, demo data.

A package (not code) so that the wheel carries them and both ends read them with
``importlib.resources.files("assets")``, wherever pip installed them.
"""
