"""pytest settings for the whole checkout (the notebooks' nbval run included).

nbval's kernels listen on Unix sockets in a private folder each, as the report runner's
do (:func:`kpitools.report.kernels.kernel_manager`), not on TCP ports: two workers
starting kernels at the same moment could otherwise pick the same free port, and one
kernel dies at start or its client waits a minute for an answer that never comes.
"""


def pytest_configure(config):
    if getattr(config.option, "nbval_lax", False) or getattr(config.option, "nbval", False):
        import nbval.kernel

        from kpitools.report.kernels import kernel_manager

        nbval.kernel.KernelManager = kernel_manager
