"""Plots and reports: layer-wise curves, heatmaps, markdown reports."""
