import sys
from pathlib import Path

# test helper modules (tests/<area>/models.py ...) import as plain modules
sys.path.insert(0, str(Path(__file__).parent))

# nothing written into the checkout: Hypothesis keeps no example database and puts its caches (.hypothesis/)
# in a temporary folder
try:
    import tempfile

    from hypothesis import settings
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(tempfile.mkdtemp(prefix="jpq2hw-hypothesis-"))
    settings.register_profile("jpq2hw", database=None)
    settings.load_profile("jpq2hw")
except ImportError:  # Hypothesis comes with the test extra; a bare run of other tests does not need it
    pass
