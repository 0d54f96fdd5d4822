"""The entry point: `./pants run services/search:serve`.

Template-owned and kept thin: the service's own wiring is in `composition.py`.
"""

import sys

import search
from search.composition import compose
from search.settings import Settings
from slipway.web import Service

service = Service(
    Settings,
    compose,
    title="search",
    package=search,
)
build_app = service.build_app

if __name__ == "__main__":
    sys.exit(service.main())
