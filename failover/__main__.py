"""`python -m failover`, the design's name for the CLI: the entry point lives in hubfailover/."""

from hubfailover.cli import main

raise SystemExit(main())
