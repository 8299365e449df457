"""Built-in import and export formats: LeanLife's own (text, CSV, JSON, JSON Lines,
triplets), CoNLL BIO and TriggerNER triggers, SemEval-2010 Task 8 and a relations CSV, NExT
explanation files, class folders, and the peers' doccano JSONL and Label Studio JSON.

Formats that share an extension are told apart by their ``sniff``; the generic format for an
extension has none. Order matters only for sniffers: the first that recognises a file wins.
"""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import ANY_TASK, FormatDefinition

hookimpl = pluggy.HookimplMarker("leanlife")

ALL, NER, RE, SA = ("ner", "re", "sa"), ("ner",), ("re",), ("sa",)
JSON_LINES = "application/x-ndjson"


def _path(module: str, name: str) -> str:
    return f"leanlife_formats.{module}:{name}"


FORMATS = [
    # The generic shape (label, span, links, attributes): every task's, other plugins' too.
    FormatDefinition("jsonl", (ANY_TASK,), _path("documents", "read_json"), _path("documents", "write_jsonl"),
                     ("jsonl", "ndjson"), "JSON Lines: text, meta, annotations with explanations, "
                     "annotator and source (everything)", media_type=JSON_LINES),
    FormatDefinition("json", (ANY_TASK,), _path("documents", "read_json"), _path("documents", "write_json"),
                     ("json",), "A JSON array of the JSON Lines objects", media_type="application/json"),
    FormatDefinition("text", (ANY_TASK,), _path("documents", "read_text"), None, ("txt",),
                     "Plain text, one document per line"),
    FormatDefinition("csv", ALL, _path("documents", "read_csv"), _path("documents", "write_csv"),
                     ("csv",), "CSV: a text column (other columns become metadata) and, for "
                     "document labels, label, explanation, annotator and document columns",
                     media_type="text/csv"),
    FormatDefinition("triplets", ALL, None, _path("documents", "write_triplets"), ("jsonl",),
                     "JSON Lines of (datapoint, label, explanation)", media_type=JSON_LINES),
    FormatDefinition("triggers", NER, _path("conll", "read_triggers"), _path("conll", "write_triggers"),
                     ("txt", "conll", "bio"), "TriggerNER: one instance per entity, trigger tokens T-k",
                     sniff=_path("conll", "sniff_triggers")),
    FormatDefinition("conll", NER, _path("conll", "read_conll"), _path("conll", "write_conll"),
                     ("conll", "bio", "iob", "txt"), "CoNLL BIO: token and tag per line, blank line "
                     "between sentences", sniff=_path("conll", "sniff_conll")),
    FormatDefinition("semeval2010", RE, _path("relations", "read_semeval"),
                     _path("relations", "write_semeval"), ("txt",),
                     "SemEval-2010 Task 8: ID and sentence with <e1>/<e2>, relation, comment",
                     sniff=_path("relations", "sniff_semeval")),
    FormatDefinition("relations_csv", RE, _path("relations", "read_relations_csv"),
                     _path("relations", "write_relations_csv"), ("csv",),
                     "CSV with one relation per row (subject and object offsets)",
                     sniff=_path("relations", "sniff_relations_csv"), media_type="text/csv"),
    FormatDefinition("next", ("re", "sa"), _path("next_explanations", "read_next"), None, ("json",),
                     "NExT explanation files (relation or aspect sentiment, with explanations)",
                     sniff=_path("next_explanations", "sniff_next")),
    FormatDefinition("class_folders", SA, _path("class_folders", "read_class_folders"), None, (),
                     "A folder with one file (a document per line) or subfolder per class",
                     directories=True),
    FormatDefinition("doccano", ALL, _path("doccano", "read_doccano"), _path("doccano", "write_doccano"),
                     ("jsonl", "json"), "doccano JSONL: sequence labeling, classification, relations",
                     sniff=_path("doccano", "sniff_doccano"), media_type=JSON_LINES),
    FormatDefinition("label_studio", ALL, _path("label_studio", "read_label_studio"),
                     _path("label_studio", "write_label_studio"), ("json",),
                     "Label Studio JSON tasks: spans, relations, choices",
                     sniff=_path("label_studio", "sniff_label_studio"), media_type="application/json"),
]


@hookimpl
def leanlife_formats() -> list[FormatDefinition]:
    return FORMATS
