"""xenstored as a library: the store, the wire protocol, the ring page, domain layout.

    store = Store()                              # the tree, permissions, quotas, transactions
    server = XenStore(store)                     # requests -> replies, watches, domains
    conn = Connection(domid, send=ring.send)     # one per client
    replies = server.handle(conn, request_bytes)
    service_ring(ServerRing(page), server, conn) # a guest's ring page, one round
    populate_domain(store, 1, "guest", memory_kb=131072)
"""
from .errors import QUOTA_ERROR, XsError
from .layout import DomainLayout, populate_domain
from .perms import DOM0, Caller, Perm, PermBits, Perms, perms_of
from .protocol import Connection, Domain, FrameReader, Message, XenStore, watch_event
from .ring import ClientRing, ServerRing, service_ring
from .store import Change, Node, Quota, Store, Transaction
from .watches import Watch

__all__ = [
    "QUOTA_ERROR", "XsError", "DomainLayout", "populate_domain", "DOM0", "Caller", "Perm",
    "PermBits", "Perms", "perms_of", "Connection", "Domain", "FrameReader", "Message",
    "XenStore", "watch_event", "ClientRing", "ServerRing", "service_ring", "Change", "Node",
    "Quota", "Store", "Transaction", "Watch",
]
