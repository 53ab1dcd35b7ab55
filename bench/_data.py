"""What the bench scripts share: finding FER2013, and naming the CPU their speeds ran on."""
import sys

from fer_au.data import find_data


def fer2013_path(explicit=None):
    """``fer_au.data.find_data``, or exit with one line saying how to point at the data."""
    path = find_data(explicit)
    if path is None:
        sys.exit("FER2013 not found: pass --data PATH")
    return path


def cpu_model() -> str:
    """The CPU's model name (speed figures differ between CPUs: quote it beside them)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown"
