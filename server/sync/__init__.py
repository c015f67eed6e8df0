"""The Sync and Dictation APIs' work: one uploaded clip, decoded while it arrives, answered as one transcript.

Like `streaming/`, it reaches the engine through the node's shared decoder; the HTTP routes are in
`api/routes/sync.py`.
"""
