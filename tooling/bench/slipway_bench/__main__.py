import sys

from slipway_bench.overhead import main

sys.exit(main())
