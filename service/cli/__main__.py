"""``python -m service.cli``: what ``odecast up`` and the tests run to start the API and workers."""

from service.cli import main

raise SystemExit(main())
