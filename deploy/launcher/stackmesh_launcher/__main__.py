"""`python -m stackmesh_launcher`: the same CLI, used to start a detached supervisor."""

from stackmesh_launcher.cli import main

raise SystemExit(main())
