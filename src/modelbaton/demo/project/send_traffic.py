"""Send new biopsies to a running `baton serve`, then read its live-shadow report.

    python send_traffic.py URL
"""

import csv
import json
import sys
import time
import urllib.request

url = sys.argv[1]


def call(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


with open("data/new_biopsies.csv", newline="") as handle:
    rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]
for row in rows:  # one request per biopsy, as the lab's system sends them
    answer = call("/predict?proba=true", [row])
print(f"sent {len(rows)} requests; last answer: {json.dumps(answer)}")

for _ in range(120):  # the candidate answers after each response has gone out
    shadow = call("/shadow")
    if shadow["compared_rows"] >= len(rows):
        break
    time.sleep(0.5)
primary, candidate = shadow["latency_ms"]["primary"], shadow["latency_ms"]["shadow"]
print(f"shadow: {shadow['compared_rows']} rows compared, agreement "
      f"{shadow['agreement_rate']:.1%}, mean |score difference| "
      f"{shadow['mean_abs_difference']:.4f}, errors {shadow['errors']}")
print(f"model latency p50: primary {primary['p50']} ms, candidate {candidate['p50']} ms")
