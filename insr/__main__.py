"""``python -m insr``: the same as the ``insr`` command.

``python -m`` puts the working directory first on the import path; it is dropped before
anything else is imported, so a ``.py`` file next to a downloaded case (``h5py.py``, say)
never runs by accident (the same as ``python -P``).
"""

import os
import sys

if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from insr.cli import main  # noqa: E402

main()
