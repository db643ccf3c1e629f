"""A protocol-faithful Clever simulator (Data API v3.1, district-app tokens, Events, SSO/OIDC).

It serves the same generated districts as the ClassLink simulator, translated to Clever's model
(`rostersync.simulator.clever.model`):

    with CleverSimulator(client_id="app", client_secret="secret") as clever:
        district_id = clever.add_district(generate_district(students=200, seed=7))
"""

from rostersync.simulator.clever.district import ServedDistrict
from rostersync.simulator.clever.model import CleverDistrict, object_id, translate, user_id_for
from rostersync.simulator.clever.server import CleverSimulator

__all__ = [
    "CleverDistrict",
    "CleverSimulator",
    "ServedDistrict",
    "object_id",
    "translate",
    "user_id_for",
]
