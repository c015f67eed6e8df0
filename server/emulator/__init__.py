"""The emulator's own features, not part of the AssemblyAI API: fault injection, `/admin`, the faults file,
and what test suites use (scripted results, the request journal, record and replay, the pytest plugin)."""
