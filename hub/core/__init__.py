"""The hub's rules, below every entry point: catalogue, stock and allocation, prices, orders,
promotions, the outbox of outward writes and the sync engine that runs them per shop."""
