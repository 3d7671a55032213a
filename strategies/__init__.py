"""Built-in strategy families of strategy-autopilot.

Each module is one plugin, declared as an entry point of the distribution in the group
``autopilot.strategies`` and registered exactly like a third-party plugin. Installed as
``autopilot_strategies`` (the name ``strategies`` is too generic to claim).
"""
