"""SSL certificates and the contact each was issued to."""
