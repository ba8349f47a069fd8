"""Attacks from a hostile board (or client) on loopback, one test per attack, each kept fixed by its test."""
