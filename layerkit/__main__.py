"""``python -m layerkit`` runs the training command (``layerkit-train``)."""

import sys

from .train import main

sys.exit(main())
