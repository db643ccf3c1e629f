"""A protocol-faithful ClassLink OneRoster 1.1 Roster Server simulator for loopback testing.

data = generate_district(students=2000, seed=7, bad_records=True)
with SimulatorServer([Tenant("springfield", data, key="k", secret="s")]) as server:
    base = server.base_url("springfield")  # http://127.0.0.1:<port>/springfield/ims/oneroster/v1p1
"""

from rostersync.simulator.generator import (
    PROBLEMS,
    DistrictData,
    PlantedProblem,
    generate_district,
)
from rostersync.simulator.runner import run_forever
from rostersync.simulator.server import SimulatorServer
from rostersync.simulator.tenant import Tenant

__all__ = [
    "PROBLEMS",
    "DistrictData",
    "PlantedProblem",
    "SimulatorServer",
    "Tenant",
    "generate_district",
    "run_forever",
]
