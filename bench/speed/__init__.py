"""Speed and memory: checking, recording, starting clusters, rendering reports."""
