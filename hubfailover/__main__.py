from hubfailover.cli import main

raise SystemExit(main())
