# NOT an AdapterHub defect (docs/adapters/repro/README.md): UniPELT with every gate closed failed the suite's check on
# GPT-J, ALBERT and DistilBERT because the suite's gated-prefix oracle was wrong there (it mixed the prefix into an
# output its attention had already projected; on DistilBERT it forced a crashing eager path). With the oracle fixed
# the three checks pass; this script runs them, from the repository root, until the committed results are re-rendered.
import sys

import pytest


checks = ["--impl=adapters", "--arch=gptj,albert,distilbert", "-k", "closed_gates and unipelt"]
sys.exit(pytest.main(["-q", "-p", "no:randomly", "-p", "no:cacheprovider", *checks]))
