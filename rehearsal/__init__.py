"""Local rehearsal of a failover (`hubfailover drill`): Azurite, simulated hubs, the replay host."""
