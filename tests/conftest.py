import sys
from pathlib import Path

# test helper modules (tests/<area>/models.py ...) import as plain modules
sys.path.insert(0, str(Path(__file__).parent))
