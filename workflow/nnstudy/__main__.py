"""``python -m nnstudy``: the command line (:mod:`nnstudy.cli`)."""

import sys

from nnstudy.cli import main

sys.exit(main())
