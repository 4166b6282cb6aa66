"""zhtune evaluator: multiple-choice exams and Belle-eval, lm-eval-harness style tasks as data."""
