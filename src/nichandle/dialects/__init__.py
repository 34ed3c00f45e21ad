"""The three wire dialects over one store. Each renders domain errors in its own envelope."""
