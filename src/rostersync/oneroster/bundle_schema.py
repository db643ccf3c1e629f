"""The OneRoster CSV binding's tables: which files a manifest lists and each file's columns.

Column orders follow the 1.1 and 1.2 CSV bindings (see the protocol reference, §3.2 and §3.3).
A file's header must start with exactly these columns in this order; `metadata.<name>` and other
extension columns may follow them.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "FILES",
    "MANIFEST_VERSION",
    "READ_ORDER",
    "VERSIONS",
    "columns_for",
]

MANIFEST_VERSION = "1.0"
VERSIONS = ("1.1", "1.2")

# Every `file.<name>` key each version's manifest carries, rostering or not.
FILES: dict[str, tuple[str, ...]] = {
    "1.1": (
        "academicSessions",
        "categories",
        "classes",
        "classResources",
        "courses",
        "courseResources",
        "demographics",
        "enrollments",
        "lineItems",
        "orgs",
        "resources",
        "results",
        "users",
    ),
    "1.2": (
        "academicSessions",
        "categories",
        "classes",
        "classResources",
        "courseResources",
        "courses",
        "demographics",
        "enrollments",
        "lineItemLearningObjectiveIds",
        "lineItems",
        "lineItemScoreScales",
        "orgs",
        "resources",
        "resultLearningObjectiveIds",
        "results",
        "resultScoreScales",
        "roles",
        "scoreScales",
        "userProfiles",
        "userResources",
        "users",
    ),
}

# The files rostersync reads, in the order it reads them. 1.2 roles come before users because a
# 1.2 user row carries neither its role nor its orgs: both are joined in from roles.csv.
READ_ORDER: dict[str, tuple[str, ...]] = {
    "1.1": ("orgs", "academicSessions", "courses", "classes", "users", "enrollments"),
    "1.2": ("orgs", "academicSessions", "courses", "classes", "roles", "users", "enrollments"),
}

_COMMON = ("sourcedId", "status", "dateLastModified")

_SHARED: dict[str, tuple[str, ...]] = {
    "academicSessions": (
        *_COMMON,
        "title",
        "type",
        "startDate",
        "endDate",
        "parentSourcedId",
        "schoolYear",
    ),
    "orgs": (*_COMMON, "name", "type", "identifier", "parentSourcedId"),
    "courses": (
        *_COMMON,
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ),
    "classes": (
        *_COMMON,
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ),
    "enrollments": (
        *_COMMON,
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ),
}

COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "1.1": {
        **_SHARED,
        "users": (
            *_COMMON,
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
        ),
    },
    "1.2": {
        **_SHARED,
        "users": (
            *_COMMON,
            "enabledUser",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
            "userMasterIdentifier",
            "preferredGivenName",
            "preferredMiddleName",
            "preferredFamilyName",
            "primaryOrgSourcedId",
            "pronouns",
        ),
        "roles": (
            *_COMMON,
            "userSourcedId",
            "roleType",
            "role",
            "beginDate",
            "endDate",
            "orgSourcedId",
            "userProfileSourcedId",
        ),
        "userProfiles": (
            *_COMMON,
            "userSourcedId",
            "profileType",
            "vendorId",
            "applicationId",
            "description",
            "credentialType",
            "username",
            "password",
        ),
    },
}


def columns_for(version: str, name: str) -> tuple[str, ...]:
    """The spec columns of one file, in spec order.

    Args:
        version: "1.1" or "1.2".
        name: The file's name without `.csv` (e.g. "users").

    Raises:
        KeyError: The version or the file is not one rostersync reads.
    """
    return COLUMNS[version][name]
