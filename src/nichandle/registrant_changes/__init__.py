"""Changes of registrant: ICANN's Transfer Policy, Part II (cor-2024) and its successor, Change
of Registrant Data (cord-2026). docs/registrant-change.md."""
