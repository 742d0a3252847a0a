"""benchmarks/mask_cleanup.py: the ways a drawn mask can be cleaned up before it is scored."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'benchmarks'))
import mask_cleanup  # pylint: disable=g-import-not-at-top,wrong-import-position


def _ring_with_a_gap_to_the_border():
  """A 3 x 3 ring enclosing one pixel at (2, 2), and a U open to the top border at column 6."""
  mask = np.zeros((8, 9), bool)
  mask[1:4, 1:4] = True
  mask[2, 2] = False
  mask[0:3, 5] = mask[0:3, 7] = mask[2, 6] = True  # Column 6 above row 2 reaches the border.
  return mask


def test_filling_holes_fills_enclosed_background_and_keeps_background_that_reaches_the_border():
  mask = _ring_with_a_gap_to_the_border()
  expected = mask.copy()
  expected[2, 2] = True  # Only the enclosed pixel; the U's inside stays background.
  np.testing.assert_array_equal(mask_cleanup.holes_filled(mask), expected)


def test_the_largest_part_counts_diagonal_neighbours_as_connected():
  mask = np.zeros((6, 6), bool)
  mask[0, 0] = mask[1, 1] = mask[2, 2] = True  # One part of 3 by 8-connectivity.
  mask[4:6, 4:6] = True  # Four pixels, but in one part only.
  assert mask_cleanup.largest_part(mask).sum() == 4
  mask[3, 3] = True  # Now all one diagonal chain of 8.
  np.testing.assert_array_equal(mask_cleanup.largest_part(mask), mask)


def test_small_parts_are_those_under_a_tenth_of_the_largest():
  mask = np.zeros((12, 12), bool)
  mask[0:10, 0:5] = True  # 50 pixels.
  mask[0:5, 7] = True  # 5 pixels: a tenth, kept.
  mask[11, 11] = mask[11, 9] = True  # 1 pixel each: dropped.
  cleaned = mask_cleanup.small_parts_dropped(mask)
  assert cleaned.sum() == 55
  assert not cleaned[11].any()


def test_an_empty_mask_stays_empty_under_every_cleanup():
  empty = np.zeros((5, 5), bool)
  for cleanup in mask_cleanup.CLEANUPS.values():
    assert not np.asarray(cleanup(empty)).any()
