from kerascourse.cli import main

raise SystemExit(main())
