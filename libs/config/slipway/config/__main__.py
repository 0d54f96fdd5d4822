import sys

from slipway.config.effective import main

sys.exit(main())
