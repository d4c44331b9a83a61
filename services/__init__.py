"""The Streamlit side of the app, one module per job:

- ``state``: the view kept in the URL (``View``, the ``PARAMS`` table, ``url_widget``, ``url_multiselect``)
- ``models``: loading models once per process and tuning the process for serving (``Problem``, ``ModelInfo``)
- ``cached``: the only caches, thin wrappers over ``analysis`` kept in one byte-bounded cache (``bytecache``)
- ``ui``: the page kit (``require_model``, ``layer_head``, ``show_figure``, ``show_problem``, ...)
- ``server``: starting the app exactly as ``make run`` does (also for the tests and benchmarks)

Pages import from here and never touch torch or ``model_core``; nothing here imports ``viz``.
"""
