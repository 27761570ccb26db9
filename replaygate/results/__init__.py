"""From scored cases to decisions: records, outcomes, baselines, the paired statistics, the gate and reports."""
