"""Fork mode (issue 19): a node on top of a chain reached over JSON-RPC."""
