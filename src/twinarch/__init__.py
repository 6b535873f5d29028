"""twinarch: encoder or decoder for sentence embeddings, under the same conditions.

A workflow script's first `import twinarch...` hands its job to a warm fork server when one runs
(`twinarch.core.forkserver`, used by `make demo` and the tests): the hook lives here rather than in
the scripts because Snakemake reruns a job whose script text changed, and how a job is started must
never invalidate results. Anything but a Snakemake script (whose preamble sets `__real_file__`)
skips it.
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

if _os.environ.get("TWINARCH_FORKSERVER") and hasattr(_sys.modules.get("__main__"), "__real_file__"):
    from twinarch.core.forkserver import hand_over as _hand_over

    _hand_over()
