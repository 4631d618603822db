from nerfspec.cli import main

raise SystemExit(main())
