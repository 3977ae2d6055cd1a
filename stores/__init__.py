"""Persistence shared by the API, the activities and the jobs (DESIGN.md, "Architecture").

The older stores still live under models/ until the layout step (issue 11) moves them here."""
