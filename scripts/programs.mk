# Tests of scripts/heapmark_report/programs.py (the real programs' part of the report).
#   make test-report-programs   statistics, separation, exports and the report's
#                               opening table on a generated fixture run

.PHONY: test-report-programs
TESTS += test-report-programs

test-report-programs: deps
	MPLBACKEND=Agg nice $(PYTHON) scripts/tests/test_report_programs.py
