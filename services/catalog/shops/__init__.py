"""A shop's life beyond its products: profile, status, invitations, acting for it, its journal."""
