"""Makes the repository root importable so `import datasets` finds ours, not Hugging Face's."""
import os
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
if sys.path[0] != ROOT:
  sys.path.insert(0, ROOT)
