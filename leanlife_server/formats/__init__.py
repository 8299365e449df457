"""Import and export machinery. Formats themselves come from plugins (``leanlife_formats``);
this package finds the right one, streams records through it, validates every annotation
with the project's task plugin and writes all or nothing.

- :mod:`.sources`: the streaming file reader handed to importers
- :mod:`.detect`: which format reads a file
- :mod:`.validate`: records checked against the project's task and labels
- :mod:`.writer`: batched inserts inside one transaction, duplicate policy
- :mod:`.importer` / :mod:`.exporter`: the two directions, with progress
- :mod:`.reader`: a project's documents as records, streamed in chunks
- :mod:`.derive`: a relation project made from an NER project
- :mod:`.jobs`: the background job functions
"""
