"""make test-browser: report.html in a real (headless) browser. Renders the
fixture's report and checks it with browser_check.py; then shows that the
checker catches a console error, an image that does not decode and a blank
page."""

import os
import shutil
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import hm_testutil as tu  # noqa: E402
import browser_check as bc  # noqa: E402
from heapmark_report.html_page import asset  # noqa: E402


class Browser(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if bc.chromium() is None:
            raise AssertionError("chromium is missing: run scripts/bootstrap-deps.sh chromium")
        cls.tmp = tu.scratch()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def page(self, name, body):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write("<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body>%s"
                    "<script>%s</script></body></html>" % (body, asset("check_images.js")))
        return p

    def test_fixture_report(self):
        out = os.path.join(self.tmp, "out")
        rc, _o, err = tu.run_script("report.py", "--quiet", "--out", out, tu.FIXTURE)
        self.assertEqual(rc, 0, err)
        shot = os.path.join(out, "screenshot.png")
        self.assertEqual(bc.check(os.path.join(out, "report.html"), shot), [])
        frac, shape = bc.blank_fraction(shot)
        self.assertEqual(shape[:2], (900, 1280))
        self.assertGreater(frac, 0.01)

    def test_allocator_switches_hide_columns_and_rows(self):
        import re
        import make_fixture
        run = os.path.join(self.tmp, "nine")
        make_fixture.noisy_run(run, processes=1, allocs=make_fixture.NINE)
        rc, _o, err = tu.run_script("report.py", "--quiet", run)
        self.assertEqual(rc, 0, err)
        page = os.path.join(run, "report.html")
        self.assertEqual(bc.check(page), [])
        dom, console = bc.dump_dom(page, "hide=jemalloc,scudo")
        self.assertEqual(console, [])
        self.assertRegex(dom, r'<html[^>]*data-hidden="jemalloc,scudo"')
        tags = re.findall(r'<(?:td|th|tr)\b[^>]*data-alloc="([^"]+)"[^>]*>', dom)
        self.assertGreater(len(tags), 100)
        for m in re.finditer(r'<(?:td|th|tr)\b([^>]*)data-alloc="([^"]+)"([^>]*)>', dom):
            hidden = "display: none" in m.group(1) + m.group(3)
            self.assertEqual(hidden, m.group(2) in ("jemalloc", "scudo"), m.group(0))
        for a in make_fixture.NINE:
            box = re.search(r'<input[^>]*value="%s"[^>]*>' % re.escape(a), dom).group(0)
            self.assertEqual("checked" in box, a not in ("jemalloc", "scudo"), box)
        dom, _c = bc.dump_dom(page)
        self.assertNotIn("display: none", dom)

    def test_console_error_and_broken_image_are_caught(self):
        p = self.page("bad.html", "<h1>A heading that is visible</h1>"
                      "<img alt=\"x\" src=\"data:image/png;base64,AAAA\">"
                      "<script>console.error('planted error'); noSuchFunction();</script>")
        problems = bc.check(p)
        text = "\n".join(problems)
        self.assertIn("console: \"planted error\"", text)
        self.assertIn("noSuchFunction is not defined", text)
        self.assertIn("images: broken 1 of 1", text)
        self.assertNotIn("blank", text)

    def test_blank_page_is_caught(self):
        problems = bc.check(self.page("blank.html", ""))
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("screenshot is blank", problems[0])

    def test_page_without_the_marker_is_caught(self):
        p = os.path.join(self.tmp, "nomark.html")
        with open(p, "w") as f:
            f.write("<!DOCTYPE html><html><body><h1>No marker script here at all</h1></body></html>")
        self.assertIn("never marked its images", "\n".join(bc.check(p)))


if __name__ == "__main__":
    unittest.main()
