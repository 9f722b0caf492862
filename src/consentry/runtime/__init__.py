"""Process plumbing: worker pools, thread limits, and interrupt handling (Ctrl-C, SIGTERM).
"""
