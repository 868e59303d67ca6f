"""``python -m motiondepth.cli``."""

import sys

from motiondepth.cli.main import main

sys.exit(main())
