"""Bulk changes from spreadsheets: reading CSV/XLSX sheets, checking and applying stock and
price files (:mod:`hub.bulk.imports`), and exporting current values in the same format."""
