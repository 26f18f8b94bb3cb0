"""The Co-ordinator's web console.

Not built yet: see issue 6.
"""
