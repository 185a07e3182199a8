"""The loyalty engine: program rules, the points ledger, economics and the simulator."""
