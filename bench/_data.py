"""What every bench script that reads FER2013 starts with."""
import sys

from fer_au.data import find_data


def fer2013_path(explicit=None):
    """``fer_au.data.find_data``, or exit with one line saying how to point at the data."""
    path = find_data(explicit)
    if path is None:
        sys.exit("FER2013 not found: pass --data PATH")
    return path
