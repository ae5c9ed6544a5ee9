"""A group of collectors coordinated through Redis (``[cluster] redis``): leases, rendezvous assignment,
shared incidents. Nothing here is imported unless ``[cluster] redis`` is set: one machine needs no Redis."""
