"""``python -m attractorlab`` runs the command line (see :mod:`attractorlab.cli`)."""

import sys

from attractorlab.cli import main

if __name__ == "__main__":
    sys.exit(main())
