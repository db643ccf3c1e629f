"""Reading roster import spreadsheets (CSV and XLSX) and writing their template.

table = read_staff_sheet("staff.xlsx", data, max_rows=5000)   # raises SpreadsheetRejected
template = staff_template("xlsx")                              # bytes to download
"""

from rostersync.importing.sheets import DEFAULT_MAX_ROWS, StaffSheet, read_staff_sheet
from rostersync.importing.template import TEMPLATE_FORMATS, staff_template

__all__ = [
    "DEFAULT_MAX_ROWS",
    "TEMPLATE_FORMATS",
    "StaffSheet",
    "read_staff_sheet",
    "staff_template",
]
