from spola.cli import main

raise SystemExit(main())
