"""Reads a Prometheus text exposition on stdin with prometheus_client's parser (the reference
implementation's) and prints every sample as one JSON list: [[name, {labels}, value], ...].
A page the parser rejects makes this exit non-zero with the parser's error."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

out = []
families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    families[family.name] = family.type
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps({"families": families, "samples": out}))
