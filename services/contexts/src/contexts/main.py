"""The entry point: `./pants run services/contexts:serve`.

Template-owned and kept thin: the service's own wiring is in `composition.py`.
"""

import sys

import contexts
from contexts.composition import compose
from contexts.settings import Settings
from slipway.web import Service

service = Service(
    Settings,
    compose,
    title="contexts",
    package=contexts,
)
build_app = service.build_app

if __name__ == "__main__":
    sys.exit(service.main())
