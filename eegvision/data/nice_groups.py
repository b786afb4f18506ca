"""NICE's published semantic grouping of the 200 THINGS-EEG2 test concepts (a fact).

The NICE repository's confusion-matrix script (eeyhsong/NICE-EEG,
draw_pic/plot_confusion_matrix.py) holds ``new_order``: for each of the 200
test conditions, in the order of ``image_metadata.npy``'s
``test_img_concepts``, its 1-based position in the group-sorted figure. The
figure's ticks put the group boundaries at positions 35, 82, 102, 137, 147
and 200: animal, food, vehicle, tool, sport, others. (Read as positions it
gives the right groups: condition 1, aircraft carrier, at position 83, a
vehicle; condition 2, antelope, at 1, an animal; condition 4, balance beam,
at 138, a sport; read as a list of conditions it does not.) The paper folds
the 10 sport concepts into "other" (63).
"""

from __future__ import annotations

import numpy as np

#: ``new_order`` of plot_confusion_matrix.py: the 1-based figure position of each test
#: condition (conditions in test_img_concepts order).
NICE_NEW_ORDER = np.array([
    83, 1, 103, 138, 36, 139, 148, 140, 143, 104, 105, 2, 149, 84, 37, 106, 85, 38, 150, 107,
    108, 39, 109, 31, 86, 151, 40, 152, 41, 153, 87, 42, 3, 4, 110, 154, 155, 43, 5, 111,
    156, 112, 113, 114, 157, 32, 44, 45, 158, 46, 47, 159, 33, 48, 49, 160, 50, 34, 88, 51,
    52, 115, 6, 53, 7, 144, 161, 162, 8, 9, 54, 10, 55, 163, 89, 11, 116, 117, 164, 118,
    56, 57, 119, 90, 91, 12, 13, 14, 15, 120, 58, 121, 122, 165, 166, 141, 16, 167, 168, 92,
    59, 169, 170, 142, 123, 17, 171, 172, 60, 18, 19, 173, 61, 124, 93, 125, 174, 175, 126, 62,
    176, 63, 64, 65, 66, 177, 20, 178, 21, 179, 67, 68, 22, 127, 69, 23, 24, 180, 128, 70,
    71, 25, 72, 26, 129, 181, 73, 74, 145, 27, 130, 28, 182, 94, 183, 184, 75, 76, 77, 95,
    29, 185, 186, 96, 97, 187, 146, 131, 188, 132, 133, 98, 134, 78, 99, 189, 190, 191, 192, 193,
    194, 195, 35, 79, 135, 136, 196, 100, 197, 30, 101, 137, 147, 198, 80, 81, 102, 199, 82, 200,
])
#: The figure's blocks: (end position, group), as the script's ticks.
NICE_BLOCKS = ((35, "animal"), (82, "food"), (102, "vehicle"), (137, "tool"), (147, "sport"),
               (200, "other"))
#: Number of test conditions the grouping covers.
N_TEST = 200


def nice_group_of_condition(fold_sport=True):
    """Group of each test condition (0-based index -> name), from ``NICE_NEW_ORDER``.

    Parameters
    ----------
    fold_sport : bool
        Count the 10 sport concepts as "other", as the paper does.

    Returns
    -------
    groups : array of str, shape (200,)
    """
    ends = np.array([end for end, _ in NICE_BLOCKS])
    names = np.array(["other" if fold_sport and name == "sport" else name
                      for _, name in NICE_BLOCKS])
    return names[np.searchsorted(ends, NICE_NEW_ORDER - 1, side="right")]


def nice_position_of_condition():
    """Position (0-based) of each test condition in NICE's group-sorted figure."""
    return NICE_NEW_ORDER - 1
