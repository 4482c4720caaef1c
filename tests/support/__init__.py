"""What the tests share: a fake Bot API server, a stand-in model server, a daemon in a
subprocess, and polling with a deadline (tests wait on conditions, never on sleeps)."""
