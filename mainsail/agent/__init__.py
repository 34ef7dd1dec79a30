"""The Mainsail agent: runs on the managed host, stdlib only, Python >= 3.8.

Everything in this package is shipped to hosts as a zipapp, so every import
inside it is relative (the package is named ``mainsail_agent`` on the host).
"""
