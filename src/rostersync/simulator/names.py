"""Built-in name lists for the generated district.

Deliberately includes the awkward cases a OneRoster client meets in real rosters: apostrophes
(O'Brien), spaces (De La Cruz, Mary Ann), hyphens and non-ASCII letters (José, Nguyễn), because
filter values and OAuth signatures break on exactly these.
"""

from __future__ import annotations

GIVEN_NAMES: tuple[str, ...] = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Levi", "Evelyn", "Ethan", "Abigail", "Aiden",
    "Emily", "Jackson", "Ella", "Sebastian", "Chloe", "Daniel", "Camila", "Henry", "Aria", "Owen",
    "Luna", "Wyatt", "Zoe", "Jayden", "Nora", "Gabriel", "Lily", "Samuel", "Layla", "Carter",
    "Mary Ann", "José", "Zoë", "Aaliyah", "Darnell", "Priya", "Wei", "Fatima", "Kai", "Anne-Marie",
    "Diego", "Hannah", "Omar", "Grace", "Malik", "Ximena", "Jamal", "Sofía", "Ravi", "Keisha",
)  # fmt: skip

FAMILY_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "O'Brien", "De La Cruz", "Nguyễn", "Smith-Jones", "Okafor",
    "Patel", "Kowalski", "Chen", "Yamamoto", "Van der Berg", "MacDonald", "Al-Sayed", "Müller",
    "St. John",
)  # fmt: skip

SCHOOL_PLACES: tuple[str, ...] = (
    "Lincoln", "Washington", "Jefferson", "Roosevelt", "Franklin", "Madison", "Jackson",
    "Kennedy", "Oak Grove", "Maple Ridge", "Cedar Hills", "Pine Valley", "Willow Creek",
    "Riverside", "Lakeview", "Hillcrest", "Sunnyside", "Fairview", "Brookside", "Meadowbrook",
    "Highland", "Parkview", "Evergreen", "Westwood", "Eastgate", "Northview", "Southridge",
    "Harmony", "Liberty", "Unity", "Cesar Chavez", "Harriet Tubman", "Sojourner Truth",
    "Rosa Parks", "Sally Ride", "Amelia Earhart", "Marie Curie", "Frederick Douglass",
    "Mark Twain", "Walt Whitman",
)  # fmt: skip

# Prefixes multiply the place list so even a million-student district gets unique school names.
SCHOOL_PREFIXES: tuple[str, ...] = ("", "North ", "South ", "East ", "West ", "New ", "Upper ")
