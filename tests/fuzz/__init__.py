"""Schemathesis against ``/schema/openapi.json`` (issue 12): no 500, no schema violation.

``tests.fuzz.scenario.run_fuzz(base_url, api_key)`` is the scenario (the fault suite calls it);
``python -m tests.fuzz`` runs it standalone (see ``tests/fuzz/__main__.py``).
"""
