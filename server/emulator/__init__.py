"""The emulator: what LocalScribe adds for test suites (not part of the AssemblyAI API)."""
