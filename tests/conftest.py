"""Test-suite settings: Hypothesis is deterministic unless asked otherwise.

The default profile ("deterministic") derandomizes every property test and keeps no
example database, so a run never depends on what an earlier run found: the suite gives
the same verdict on every machine, every time.  To explore with fresh random examples,
``HYPOTHESIS_PROFILE=explore python -m pytest --hypothesis-seed=N``.
"""

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
