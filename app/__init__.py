"""Composition root: settings, the command line, and (later) the daemon loop and the demo.

Imports everything; nothing imports it.
"""
