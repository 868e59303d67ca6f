"""``python -m motiondepth``: the ``motiondepth`` command."""

import sys

from motiondepth.cli.main import main

sys.exit(main())
