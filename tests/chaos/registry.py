"""The fault suite's scenarios, in the order ``make chaos`` runs them.

A scenario is a :class:`Scenario`: a name (``--only NAME``), one line of summary, and
``run(context, figures)``, which drives the service through one kind of fault, counts what
it sees in ``figures`` and records every broken rule with ``figures.fail``. An exception
out of ``run`` fails the scenario too.

To add one: write a module beside these with a
``SCENARIO = Scenario(...)`` and add it to :data:`SCENARIOS` below.
"""

from __future__ import annotations

from typing import Final

from tests.chaos import fuzz, kill_serve, pg_restart, projector, statement_timeout, tamper
from tests.chaos.harness import Scenario

SCENARIOS: Final[tuple[Scenario, ...]] = (
    kill_serve.SCENARIO,
    pg_restart.SCENARIO,
    projector.SCENARIO,
    statement_timeout.SCENARIO,
    tamper.SCENARIO,
    fuzz.SCENARIO,
)
