import sys
from pathlib import Path

# The tiny study and its helpers are shared with the fault suite.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))
