"""benchmarks/cross_grid.py: a finer run's masks resized to a coarser grid."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import cross_grid  # pylint: disable=g-import-not-at-top,wrong-import-position


def test_probabilities_shrink_to_the_coarse_grid_and_keep_a_solid_square():
  probabilities = np.zeros((2, 8, 8, 1), np.float32)
  probabilities[0, 2:6, 2:6] = 1.0
  resized = cross_grid.resized_probabilities(probabilities, 4)
  assert resized.shape == (2, 4, 4, 1)
  assert np.all(resized[0, 1:3, 1:3] > 0.5) and np.all(resized[1] == 0)
  assert resized.min() >= 0 and resized.max() <= 1
