"""Imported by every python3 process of a cpython.py run (PYTHONPATH points
here), the test workers included: records whether sable's library (the file
$HEAPMARK_RELI_LIB names, after symbolic links: libsable.so.<version>) is
mapped in this process, one file per process in $HEAPMARK_RELI_MAPS."""
import os

_dir = os.environ.get("HEAPMARK_RELI_MAPS")
if _dir:
    with open("/proc/self/maps", encoding="ascii", errors="replace") as _f:
        _lib = os.environ.get("HEAPMARK_RELI_LIB", "/libsable.so")
        _mapped = any(_line.rstrip().endswith(_lib) for _line in _f)
    with open("/proc/self/cmdline", "rb") as _f:
        _worker = b"--worker-args" in _f.read()
    with open(os.path.join(_dir, str(os.getpid())), "w", encoding="ascii") as _f:
        _f.write("%s %s\n" % ("worker" if _worker else "main", "sable" if _mapped else "-"))
