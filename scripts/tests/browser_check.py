#!/usr/bin/python3
"""Opens an HTML report in headless chromium and checks that it really works
in a browser: it loads with no console message (report.html logs nothing, so
any console output, errors and uncaught exceptions included, is a problem),
every image decodes (report.html's own script marks <html data-images="ok N">
once each img.decode() has resolved), and a screenshot of the first screen is
not blank.

usage: browser_check.py HTML [SCREENSHOT.png]
Prints one line per problem; exit 0 when there is none, 1 otherwise, 2 when
chromium cannot be run.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

PROG = "browser_check.py"
CONSOLE_RE = re.compile(r":CONSOLE[:(]?\d*\)?\]\s*(.*)$")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio"]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _run(cmd, timeout=90):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, errors="replace", timeout=timeout)


def blank_fraction(png):
    """Fraction of pixels that differ from the most common colour."""
    import numpy as np
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    img = mpimg.imread(png)
    if img.ndim == 3:
        img = img[:, :, :3]
        flat = (img * 255).astype(np.uint8).reshape(-1, 3)
        keys = flat[:, 0].astype(np.uint32) << 16 | flat[:, 1].astype(np.uint32) << 8 | flat[:, 2]
    else:
        keys = (img * 255).astype(np.uint32).reshape(-1)
    vals, counts = np.unique(keys, return_counts=True)
    return 1.0 - counts.max() / float(keys.size), img.shape


def dump_dom(html_path, fragment=""):
    """(DOM after the page's scripts ran, console lines) of html_path#fragment."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (scripts/bootstrap-deps.sh chromium)")
    url = "file://" + os.path.abspath(html_path) + (("#" + fragment) if fragment else "")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        p = _run([exe] + FLAGS + ["--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
                                  "--virtual-time-budget=5000", "--dump-dom", url])
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    console = [m.group(1) for m in (CONSOLE_RE.search(x) for x in p.stderr.splitlines()) if m]
    return p.stdout, console


def check(html_path, screenshot=None):
    """Problems found, one line each."""
    exe = chromium()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (scripts/bootstrap-deps.sh chromium)")
    html_path = os.path.abspath(html_path)
    url = "file://" + html_path
    with open(html_path, encoding="utf-8", errors="replace") as f:
        n_img = len(re.findall(r"<img\b", f.read(), re.I))
    problems = []
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        p = _run([exe] + FLAGS + ["--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
                                  "--virtual-time-budget=5000", "--dump-dom", url])
        if p.returncode != 0:
            problems.append("chromium --dump-dom exited %d" % p.returncode)
        for line in p.stderr.splitlines():
            m = CONSOLE_RE.search(line)
            if m:
                problems.append("console: %s" % m.group(1)[:300])
        m = re.search(r"<html[^>]*\sdata-images=\"([^\"]*)\"", p.stdout)
        if not m:
            problems.append("the page never marked its images as checked (no data-images on "
                            "<html>: the page's script did not run)")
        elif m.group(1) != "ok %d" % n_img:
            problems.append("images: %s (the page has %d <img>)" % (m.group(1), n_img))
        if "</html>" not in p.stdout:
            problems.append("--dump-dom returned no complete document")

        shot = screenshot or os.path.join(profile, "shot.png")
        if os.path.exists(shot):
            os.remove(shot)
        p = _run([exe] + FLAGS + ["--user-data-dir=" + profile, "--window-size=1280,900",
                                  "--virtual-time-budget=5000", "--screenshot=" + shot, url])
        if p.returncode != 0 or not os.path.exists(shot):
            problems.append("chromium --screenshot failed (exit %d)" % p.returncode)
        else:
            frac, shape = blank_fraction(shot)
            if shape[0] < 100 or shape[1] < 100:
                problems.append("screenshot is only %dx%d" % (shape[1], shape[0]))
            elif frac < 0.001:
                problems.append("screenshot is blank (%.3f%% of pixels differ from the background)"
                                % (frac * 100))
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return problems


def main(argv):
    if len(argv) not in (1, 2):
        print("usage: %s HTML [SCREENSHOT.png]" % PROG, file=sys.stderr)
        return 2
    if not os.path.isfile(argv[0]):
        print("%s: %s: no such file" % (PROG, argv[0]), file=sys.stderr)
        return 2
    try:
        problems = check(argv[0], argv[1] if len(argv) > 1 else None)
    except (FileNotFoundError, subprocess.TimeoutExpired) as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    for pr in problems:
        print("%s: %s: %s" % (PROG, argv[0], pr))
    if not problems:
        print("%s: %s: loads without console messages, every image decodes, screenshot not blank"
              % (PROG, argv[0]))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
