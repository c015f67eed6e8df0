"""The emulator's own features, not part of the AssemblyAI API: fault injection, `/admin`, the faults file."""
