"""The plugin SDK: the gate contract, declared parameters, verdicts and plugin loading.

Plugin authors import the public names from :mod:`autopilot` itself; these modules hold
their definitions.
"""
