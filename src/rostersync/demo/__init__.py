"""Demonstration harnesses, outside production code: `sandbox` runs a whole sign-in world on
loopback (ClassLink's OneRoster and SSO simulators and the portal) for `rostersync demo --serve`,
the integration and browser tests and the benchmarks. Only this package, the CLI and the tests
may import the simulator.
"""
