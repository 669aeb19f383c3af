"""The `baton.yaml` draft that `baton init` writes: every human section, with guidance.

Each section carries one comment line saying what the receiving team needs from it, and
TODO markers where a person must write something; `baton pack` reads the draft and
`baton check` reports what is still TODO.
"""

from __future__ import annotations

SCAFFOLD = """\
# The handoff contract of one model. `baton pack` fills in everything a machine can
# capture (flavor, interface, environment, golden examples, lineage, file digests);
# the sections below are the ones only people can write. Replace every TODO.
apiVersion: baton/v1
name: {name}
version: "{version}"
# One paragraph: what the model predicts, for whom, and what decision it feeds.
description: "TODO: what the model does and for whom"

# Who answers for the model after the handoff (person or team, and how to reach them).
owners:
  training: {{name: "TODO: who retrains it", contact: "TODO: e-mail or channel"}}
  deployment: {{name: "TODO: who runs it in production", contact: "TODO"}}
  monitoring: {{name: "TODO: who watches drift and alerts", contact: "TODO"}}
  replacement_decision: {{name: "TODO: who decides to replace or retire it", contact: "TODO"}}
  data_steward: {{name: "TODO: who answers for the training data", contact: "TODO"}}

# Why the model exists, in business terms; what a wrong prediction costs.
business_context:
  problem: "TODO: the business problem"
  users: "TODO: who relies on the predictions"
  decision_supported: "TODO: the decision it informs"
  value: "TODO: the value it brings"
  cost_of_errors: "TODO: cost of a false positive and of a false negative"

# How it was trained (objective, validation scheme, tuning); flavor and structure are captured.
model:
  training_approach: "TODO: objective, validation scheme, tuning"

# The feature code applied before the model, as `module:function` in the code you ship.
preprocessing:
  entry_point: null
  steps: []

# Where the data came from: source system, time range, what was done to it (lineage).
# Files passed to pack get their sha256, rows and columns captured and merged by name.
data:
  datasets:
    - name: training
      role: training
      source: "TODO: system of record"
      time_range: {{start: null, end: null}}
      transformations: ["TODO: filters, joins, deduplication, labelling"]
      quality_notes: []
      pii: []

# Each metric with its value, dataset, business meaning and acceptance threshold.
evaluation:
  metrics:
    - name: "TODO: e.g. roc_auc"
      value: null
      dataset: "TODO: which dataset"
      business_meaning: "TODO: what this number means for the business"
      threshold: null
      higher_is_better: true

# Budgets the serving team needs; `baton bench` measures against them.
performance:
  budgets: {{latency_p99_ms: null, peak_rss_mb: null}}

# Where it breaks: known limitations, edge cases, failure modes, uses it must not serve.
limitations:
  known: ["TODO: known limitations"]
  edge_cases: []
  failure_modes: ["TODO: how it fails, and how that shows"]
  out_of_scope: []

# When and how to retrain: cadence, triggers, the data needed, the procedure.
retraining:
  cadence: "TODO: e.g. monthly"
  triggers: ["TODO: e.g. PSI above 0.25 on a top feature"]
  data_needed: "TODO"
  procedure: "TODO: the command or pipeline that retrains it"

# What to watch in production, the alert thresholds, and who is paged.
monitoring:
  metrics: []
  drift: {{psi_warning: 0.1, psi_alert: 0.25}}
  latency_p99_ms: null
  paged: "TODO: who is paged"

# The post-handoff support window: until when the trainers help, and how to reach them.
support:
  until: null
  contact: "TODO"

# How to take the model out of service safely.
rollback:
  plan: "TODO: how to roll back, and what serves meanwhile"
  fallback: "TODO"

# Decisions taken along the way, and why.
decisions: []

# Terms the receiving team may not know.
glossary: {{}}
"""


def scaffold(name: str = "my-model", version: str = "1.0.0") -> str:
    return SCAFFOLD.format(name=name, version=version)
