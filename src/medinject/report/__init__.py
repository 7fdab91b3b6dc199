"""The study's report: the paper's tables and plots, as one offline HTML page, Markdown and CSV.

`build_report(index, out)` reads the stage folders named in `index` (evaluations by configuration, judge,
agreement, mix, curate); `load_index(path)` finds them in an experiment's work directory (`results.json`)
or in a folder of evaluation folders.
"""

from ..lazy import lazy_exports

# Names load on first use so that `medinject --help` pays for none of this package's dependencies.
__getattr__, __all__ = lazy_exports(__name__, {
    "build_report": "build",
    "load_index": "build",
})
