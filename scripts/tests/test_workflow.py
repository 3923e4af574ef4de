"""Checks .github/workflows/bench.yml: it parses, and it has every step the
publishing needs. The checker is also run on damaged copies of
the workflow to show that it notices each missing piece. Run: make test-workflow."""

import copy
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hm_testutil as tu  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    print("test_workflow.py: PyYAML is missing: run scripts/bootstrap-deps.sh (python3-yaml)",
          file=sys.stderr)
    sys.exit(1)

WORKFLOW = os.path.join(tu.ROOT, ".github", "workflows", "bench.yml")
SUMMARY_LIMIT = 1024 * 1024


def load(path=WORKFLOW):
    with open(path) as f:
        return yaml.safe_load(f)


def triggers(wf):
    # YAML 1.1 reads the key `on` as the boolean True
    on = wf.get("on", wf.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {k: None for k in on}
    return on or {}


def steps(wf):
    """(job id, job, step) for every step."""
    for jid, job in (wf.get("jobs") or {}).items():
        for st in job.get("steps") or []:
            yield jid, job, st


def uses(wf, action):
    return [(j, job, s) for j, job, s in steps(wf) if str(s.get("uses", "")).split("@")[0] == action]


def runs(wf, pattern):
    rx = re.compile(pattern)
    return [(j, job, s) for j, job, s in steps(wf) if rx.search(str(s.get("run", "")))]


def check_workflow(wf):
    """Every problem found, as one line each; [] when the workflow is complete."""
    problems = []
    if not isinstance(wf, dict) or not isinstance(wf.get("jobs"), dict):
        return ["no jobs"]
    on = triggers(wf)
    push = on.get("push") or {}
    if "push" not in on or "main" not in (push.get("branches") or []):
        problems.append("not triggered on push to main")
    sched = on.get("schedule")
    if not (isinstance(sched, list) and sched and all(isinstance(c, dict) and "cron" in c
                                                          for c in sched)):
        problems.append("no schedule with a cron")
    if "workflow_dispatch" not in on:
        problems.append("cannot be run by hand (workflow_dispatch)")
    for jid, job in wf["jobs"].items():
        if "runs-on" not in job:
            problems.append("job %s has no runs-on" % jid)
        if "steps" not in job:
            problems.append("job %s has no steps" % jid)
    if not uses(wf, "actions/checkout"):
        problems.append("no checkout")
    if not runs(wf, r"(^|\s)scripts/bootstrap-deps\.sh"):
        problems.append("dependencies are not installed with scripts/bootstrap-deps.sh")
    tests = runs(wf, r"(^|\s)make test(\s|$)")
    bench = runs(wf, r"(^|\s)make bench(\s|$)")
    if not tests:
        problems.append("no `make test` step")
    if not bench:
        problems.append("no `make bench` step")
    if tests and bench:
        jid = bench[0][0]
        order = [s for j, _job, s in steps(wf) if j == jid]
        if tests[0][0] != jid or order.index(tests[0][2]) > order.index(bench[0][2]):
            problems.append("`make test` does not run before `make bench` in the same job")
    up = uses(wf, "actions/upload-artifact")
    if not up or not any("path" in (s.get("with") or {}) for _j, _job, s in up):
        problems.append("the run folder is not uploaded as an artifact")
    summ = runs(wf, r"GITHUB_STEP_SUMMARY")
    summ_md = [s for _j, _job, s in summ if "report.md" in s["run"]]
    if not summ_md:
        problems.append("report.md is not appended to $GITHUB_STEP_SUMMARY")
    else:
        limits = [int(n) for s in summ_md for n in
                  re.findall(r"head -c \"?\$?\{?(\w+)", s["run"]) if n.isdigit()]
        limits += [int(n) for s in summ_md for n in re.findall(r"limit=(\d+)", s["run"])]
        if not limits or max(limits) >= SUMMARY_LIMIT:
            problems.append("report.md is not truncated under 1 MiB for the job summary")
    pages_up = uses(wf, "actions/upload-pages-artifact")
    deploy = uses(wf, "actions/deploy-pages")
    if not pages_up:
        problems.append("no actions/upload-pages-artifact step")
    if not runs(wf, r"report\.py") or not runs(wf, r"report\.html"):
        problems.append("report.html is not what is published")
    if not deploy:
        problems.append("no actions/deploy-pages step")
    else:
        job = deploy[0][1]
        perms = job.get("permissions") or wf.get("permissions") or {}
        if perms.get("pages") != "write" or perms.get("id-token") != "write":
            problems.append("the deploy job lacks permissions pages: write and id-token: write")
        if (job.get("environment") or {}).get("name") != "github-pages":
            problems.append("the deploy job does not use the github-pages environment")
    cmp_steps = runs(wf, r"scripts/compare\.py")
    if not cmp_steps:
        problems.append("no comparison against the previous run (scripts/compare.py)")
    elif not (uses(wf, "actions/cache/restore") or uses(wf, "actions/cache")
              or uses(wf, "actions/download-artifact")):
        problems.append("the previous run is never restored for the comparison")
    fail = [s for _j, _job, s in steps(wf) if "regression" in str(s.get("if", ""))
            and re.search(r"exit [1-9]", str(s.get("run", "")))]
    if cmp_steps and not fail and not any(
            "set +e" not in s["run"] and "|| true" not in s["run"] for _j, _job, s in cmp_steps):
        problems.append("a regression found by compare.py does not fail the workflow")
    return problems


def shell_scripts(wf):
    for jid, _job, s in steps(wf):
        if "run" in s:
            # ${{ ... }} expressions are filled in by GitHub before the shell sees the script
            yield "%s: %s" % (jid, s.get("name", "?")), re.sub(r"\$\{\{[^}]*\}\}", "X", s["run"])


class Workflow(unittest.TestCase):
    def setUp(self):
        self.wf = load()

    def test_complete(self):
        self.assertEqual(check_workflow(self.wf), [])

    def test_scripts_are_valid_shell(self):
        n = 0
        for name, script in shell_scripts(self.wf):
            with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
                f.write("set -e\n" + script)
            try:
                p = subprocess.run(["bash", "-n", f.name], stderr=subprocess.PIPE,
                                   universal_newlines=True)
                self.assertEqual(p.returncode, 0, "%s: %s" % (name, p.stderr))
            finally:
                os.unlink(f.name)
            n += 1
        self.assertGreater(n, 5)

    def test_matrix_over_runner_types(self):
        job = [j for _jid, j, _s in runs(self.wf, r"make bench")][0]
        self.assertIn("matrix", job.get("strategy", {}))
        self.assertIn("matrix.runner", str(job["runs-on"]))
        # each leg's artifact has its own name (artifacts must be unique per run)
        names = [s["with"]["name"] for _j, _job, s in uses(self.wf, "actions/upload-artifact")]
        self.assertTrue(all("matrix.runner" in n for n in names), names)

    def test_checker_notices_what_is_missing(self):
        def without(pred):
            wf = copy.deepcopy(self.wf)
            for job in wf["jobs"].values():
                job["steps"] = [s for s in job.get("steps", []) if not pred(s)]
            return check_workflow(wf)

        def use(action):
            return lambda s: str(s.get("uses", "")).startswith(action)

        def run(text):
            return lambda s: text in str(s.get("run", ""))

        cases = {
            "artifact": use("actions/upload-artifact"),
            "upload-pages-artifact": use("actions/upload-pages-artifact"),
            "deploy-pages": use("actions/deploy-pages"),
            "make test": run("make test"),
            "make bench": run("make bench"),
            "GITHUB_STEP_SUMMARY": lambda s: "report.md" in str(s.get("run", ""))
            and "GITHUB_STEP_SUMMARY" in str(s.get("run", "")),
            "compare.py": run("compare.py"),
            "bootstrap": run("bootstrap-deps.sh"),
            "checkout": use("actions/checkout"),
        }
        for what, pred in cases.items():
            self.assertNotEqual(without(pred), [], "removing %s went unnoticed" % what)
        wf = copy.deepcopy(self.wf)
        del triggers(wf)["schedule"]
        self.assertIn("no schedule with a cron", check_workflow(wf))
        wf = copy.deepcopy(self.wf)
        for _j, job, _s in uses(wf, "actions/deploy-pages"):
            job["permissions"] = {"contents": "read"}
        self.assertIn("the deploy job lacks permissions pages: write and id-token: write",
                      check_workflow(wf))
        wf = copy.deepcopy(self.wf)
        for _j, _job, s in runs(wf, r"GITHUB_STEP_SUMMARY"):
            s["run"] = re.sub(r"limit=\d+", "limit=5000000", s["run"])
        self.assertIn("report.md is not truncated under 1 MiB for the job summary", check_workflow(wf))
        wf = copy.deepcopy(self.wf)
        for job in wf["jobs"].values():
            job["steps"] = [s for s in job.get("steps", []) if "regression" not in str(s.get("if", ""))
                            or "exit 1" not in str(s.get("run", ""))]
        self.assertIn("a regression found by compare.py does not fail the workflow", check_workflow(wf))

    def test_broken_yaml_is_noticed(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            with open(WORKFLOW) as src:
                f.write(src.read().replace("jobs:", "jobs:\n  - [", 1))
        try:
            with self.assertRaises(yaml.YAMLError):
                load(f.name)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    unittest.main()
