"""Built-in gate plugins of strategy-autopilot.

Each module is one plugin, declared as an entry point of the distribution in the group
``autopilot.gates`` and registered exactly like a third-party plugin.
"""
