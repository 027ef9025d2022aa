"""``python -m service.cli``: how ``odecast up``, tests and benches start the API and workers."""

from service.cli import main

raise SystemExit(main())
