"""What the bench scripts share: finding FER2013, and naming the CPU their speeds ran on."""
import sys

from fer_au.data import find_data


def fer2013_path(explicit=None):
    """``fer_au.data.find_data``, or exit with one line saying how to point at the data."""
    path = find_data(explicit)
    if path is None:
        sys.exit("FER2013 not found: pass --data PATH")
    return path


# the instruction sets that decide the CNN's speed, as /proc/cpuinfo spells them
_SPEED_FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_vnni": "VNNI", "avx_vnni": "VNNI",
                "avx512_bf16": "bf16", "amx_bf16": "bf16", "amx_int8": "AMX"}


def cpu_model() -> str:
    """The CPU's model name and the vector instructions that set the CNN's speed, e.g.
    "Intel(R) Xeon(R) Processor (AVX2, AVX-512, VNNI, bf16, AMX)" (speed figures differ
    between CPUs: quote it beside them)."""
    name, flags = None, set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and name is None:
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    if name is None:
        import platform
        name = platform.processor() or "unknown"
    found = list(dict.fromkeys(v for k, v in _SPEED_FLAGS.items() if k in flags))
    return f"{name} ({', '.join(found)})" if found else name
