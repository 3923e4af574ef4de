"""The heapmark report (scripts/report.py is its command line), one module per concern:

  analysis     per-run figures: reference, geometric means, ranks, variants
  verdict      uncertainty across processes, memory above baseline, the verdict
  programs     the real programs: statistics, tables, plots, their export rows
  exports      results.csv, summary.json, bench-smaller-is-better.json,
               bench-bigger-is-better.json
  document     the report as a list of blocks (headings, text, tables, images)
  fmt          how figures read in the text
  md           the document rendered to report.md
  html_page    the document rendered to report.html (report.css and *.js inlined)
  plots        the matplotlib plots (PNG and SVG)
  cli          the command line: read, analyse, write

The modules import hm_results (scripts/hm_results.py): scripts/ is on sys.path.
"""
