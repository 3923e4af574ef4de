# Tests of the report, compare and CI publishing scripts (scripts/report.py,
# scripts/compare.py, .github/workflows/bench.yml), on the committed fixture
# run scripts/tests/fixtures/run-small. Scratch files go under build/.
#   make test-report     report.py: outputs, CSV rows, plots, HTML, bad input; the verdict,
#                        memory above the baseline, ties across processes, conformance matching
#   make test-compare    compare.py: planted regression, noise, drift, bad input
#   make test-workflow   the workflow file parses and has every publishing step
#   make test-browser    report.html in headless chromium (installs chromium if missing)
#   make test-progress   each finished benchmark process prints its median time per op and ETA

REPORT_TEST_ENV := MPLBACKEND=Agg

.PHONY: test-report test-compare test-workflow test-browser test-progress
TESTS += test-report test-compare test-workflow test-progress

test-report: deps
	$(REPORT_TEST_ENV) nice $(PYTHON) scripts/tests/test_report.py
	$(REPORT_TEST_ENV) nice $(PYTHON) scripts/tests/test_verdict.py

test-compare: deps
	$(REPORT_TEST_ENV) nice $(PYTHON) scripts/tests/test_compare.py

test-progress: $(BUILD)/heapmark $(BUILD)/glibc/bench
	scripts/tests/test_progress.sh

test-workflow: deps
	$(PYTHON) scripts/tests/test_workflow.py

# Not in TESTS (it needs a browser): .ci/run calls it after `make test`.
test-browser: deps
	@scripts/bootstrap-deps.sh chromium
	$(REPORT_TEST_ENV) nice $(PYTHON) scripts/tests/test_browser.py
