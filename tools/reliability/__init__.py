"""Proof under hostile input, load and faults, measured on the local runtime (`make reliability`).

Each module measures one thing and returns its figures; `reliability.run` composes them into
out/reliability/report.json, and tests/e2e/test_reliability.py runs the same code with small counts in
`make test`.
"""
