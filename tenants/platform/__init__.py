"""Shared infrastructure every app may import: JSON logs with correlation ids, the API's error
shape and exception-handler registry, the bounded JSON parser and input limits, queue names.

It lives in the ground app so no app has to import ``config`` (which wires the apps together).
"""
