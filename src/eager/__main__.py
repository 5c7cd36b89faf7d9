"""``python -m eager``: the command-line interface."""

from eager.cli import main

raise SystemExit(main())
