"""The multiple-choice scoring methods by name: the keys the task schema, the eval config and
`curate eval --method` all read. No imports, so `curate --help` lists them without loading pydantic/torch.
Each method is described in `eval/multiple_choice.py`, which scores them."""

MC_METHODS = ("loglik_letter", "loglik_text", "generate")
