"""Eval-set files -> items: the one parser of C-Eval/CMMLU CSV, MMCU JSON, Belle-eval JSONL and question lists.

Pure file parsing (stdlib only), shared by decontamination (`curate.stages.eval_sets`: the question text of
any row) and the evaluator (`eval.readers`: scored items with options, answer, class and file:line).
"""
