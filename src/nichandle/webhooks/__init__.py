"""Customers' webhooks: where events go, in the shape of the dialect each was made in."""
