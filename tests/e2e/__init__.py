"""End-to-end tests that run one JSON-RPC scenario on Hummingbird and on anvil side by side."""
