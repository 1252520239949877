"""The camera service: capture (reader.py) kept apart from gating and sending (gate.py, loop.py), one thread
per enabled camera (service.py), started by `manage.py run_cameras`."""
