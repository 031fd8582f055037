from failover.cli import main

raise SystemExit(main())
