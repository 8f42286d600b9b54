"""Agent test suites: scripted conversations with expectations, run in text mode.

``models`` (cases and runs; app label ``agents_config``, original tables), ``expectations``
(the case contract), ``runner`` (runs cases on the text engine the worker registers in
``agents_config.hooks``), ``services`` (writes: cases, runs, the publish gate, replay),
``tasks`` (Celery, registered under their old names), ``serializers``/``apis`` (REST) and
``admin``.
"""
