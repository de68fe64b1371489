"""Clues (线索): what case systems, data-sharing platforms and early warning submit, before a case is filed."""
