"""``python -m hubfs`` is the ``hubfs`` command."""
import sys

from hubfs.cli.main import main

sys.exit(main())
