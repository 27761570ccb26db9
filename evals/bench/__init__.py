"""`python -m evals.bench`: replay overhead, live concurrency, throughput, memory and scaling, measured in one run."""
