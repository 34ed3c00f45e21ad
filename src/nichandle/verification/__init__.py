"""Registrant verification (ICANN 2013 RAA, WHOIS Accuracy Program Specification)."""
