"""Recall: the bounded, explained candidate set a select request races over."""
