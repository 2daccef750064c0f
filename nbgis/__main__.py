from nbgis.cli import main

raise SystemExit(main())
