"""The domain's kernel: errors, events, vocabulary, the command parser, text helpers, leases."""
