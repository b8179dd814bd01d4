"""Recorded workflow histories, replayed against the current code by tests/test_replay.py.

``python -m tests.histories.record`` records them again (see README, "Releasing while documents
are in flight"): ``scenarios.py`` drives every workflow type through the test stack and
``recording.py`` writes each history as JSON under ``<WorkflowType>/<name>.json``.
"""
