from .host_sync import SYNC_OPS, HostSyncCounter, MetaHostReads

__all__ = ['HostSyncCounter', 'MetaHostReads', 'SYNC_OPS']
