"""The pure domain core of Ruyi canteen POS.

Money, resident ID numbers, eligibility, rule sets and the one pricing function. No I/O, no clock,
no database, no HTTP: both the server and the terminal import it, and it imports neither.
"""
