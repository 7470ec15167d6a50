"""``python -m ledger.bench [--quick] [--only NAME] [--json PATH]``."""

from ledger.bench.runner import main

raise SystemExit(main())
