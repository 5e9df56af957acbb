"""Sessions as data: the entries a committed turn writes (``_entries``), their JSON form
(``_codec``), and the conversation rebuilt from them, checked and repaired (``_rebuild``).
Pure functions over values; the stores that keep entries live in the transport package."""
