"""Figures, shared widgets and component ids of the dashboard."""
