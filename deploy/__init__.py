"""Serving a school: several replicas of the app behind HAProxy, on one machine or several (see school.py)."""
