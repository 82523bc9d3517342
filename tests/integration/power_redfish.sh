#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `fleetpower power` against the Redfish simulator: per-node readings and the sums per circuit,
# PDU and phase checked exactly against the simulator's configured readings (power.tsv and its
# power state), nodes without a reading (no power resource, a null reading, a failing BMC)
# listed and never counted, imbalance and the rebalancing moves re-derived, and the Prometheus
# output of `power` and `status` read back by python3-prometheus-client's parser.
source "$(dirname "$0")/lib/common.sh"
SIM=${FLEETPOWER_SIM:?}
[ -x "$SIM" ] || { echo "fleetpower-sim not built"; exit 77; }
/usr/bin/python3 -c 'import prometheus_client.parser' 2>/dev/null ||
  { echo "python3-prometheus-client missing (scripts/install-deps)"; exit 77; }
S=$T/sim
mkdir -p "$S"
# BMCs 1-5 rackmount (one system, On), 6-10 blade enclosures (Node1..4: 1 and 3 On, 2 and 4 Off).
# BMC 2 draws 512 W, BMC 3 0 W (a real zero reading, counted); BMC 4 has no power resource,
# BMC 5 a null reading; BMC 6 only EnvironmentMetrics, BMC 7 both, BMC 8 only a PowerSubsystem
# (two supplies, 333.5 W); BMC 10 fails (HTTP 500).
"$SIM" --redfish 10 --mockup rackmount --mockup blade --address-base 127.63.0.1 --port 8443 \
  --watts "2:512,3:0,8:333.5" --power-resource "4:none,5:null,6:env,7:both,8:subsystem" --faults "10:http500" \
  --state-dir "$S" --credentials-out "$S/cred.yaml" --quiet >"$S/out" 2>&1 &
FP_PIDS+=($!)
for _ in $(seq 300); do grep -q ready "$S/out" && break; sleep 0.1; done
grep -q ready "$S/out" || { cat "$S/out"; exit 1; }

# Inventory: the simulator's nodes spread over two feeds x three phases, six circuits, PDUs
# (one with quotes and a backslash in its name, for the exposition's escaping).
/usr/bin/python3 - "$S" >"$T/inv.yaml" <<'PY'
import sys
S = sys.argv[1]
bmcs = {r[0]: r for r in (l.rstrip('\n').split('\t') for l in open(f"{S}/bmcs.tsv") if not l.startswith('#'))}
nodes = [l.rstrip('\n').split('\t') for l in open(f"{S}/power.tsv") if not l.startswith('#')]
print(f'defaults: {{ protocol: redfish, credentials: sim, ca_file: "{S}/ca.pem" }}')
print("power:\n  circuits:")
for i, (feed, ph) in enumerate([("A", "L1"), ("A", "L2"), ("A", "L3"), ("B", "L1"), ("B", "L2"), ("B", "L3")]):
    print(f"    c{i+1}: {{ feed: {feed}, phase: {ph} }}")
print("hosts:")
for k, (idx, host, sysid, res, won, woff) in enumerate(nodes):
    b = bmcs[idx]
    # Feed A gets most nodes, mostly on L1: an imbalance to fix.
    c = [1, 1, 2, 1, 3, 4, 5, 6, 1, 2][k % 10]
    pdu = "pdu-%d" % ((c + 1) // 2) if c != 6 else 'pdu "east" \\ 6'
    sysline = f', system: "{sysid}"' if "-n" in host else ""
    pdu_yaml = pdu.replace("'", "''")
    print(f"  {host}: {{ bmc: {b[2]}, port: {b[3]}, circuit: c{c}, pdu: '{pdu_yaml}'{sysline} }}")
PY
fp() { "$FLEETPOWER" -i "$T/inv.yaml" --credentials "$S/cred.yaml" -t 10s "$@"; }
expect_rc 0 "inventory check" fp inventory check


expect_rc 1 "power --all -o json (BMC 10 fails: exit 1)" fp power --all -o json
cp "$T/out" "$T/power.json"
check "readings and aggregates match the simulator's configuration exactly" /usr/bin/python3 - "$S" "$T/inv.yaml" "$T/power.json" <<'PY'
import sys, json, yaml, collections
S, inv, out = sys.argv[1:]
inv = yaml.safe_load(open(inv)); doc = json.load(open(out))
circ = inv["power"]["circuits"]
state = {s["host"]: s["power"] for b in json.load(open(f"{S}/state.json")) for s in b["systems"]}
expect = {}
for l in open(f"{S}/power.tsv"):
    if l.startswith('#'): continue
    idx, host, sysid, res, won, woff = l.rstrip('\n').split('\t')
    if idx == "10" or res in ("none", "null"): expect[host] = None
    else: expect[host] = float(won) if state[host] in ("On", "PoweringOff") else float(woff)
hosts = {h["host"]: h for h in doc["hosts"]}
assert set(hosts) == set(expect), "every node is listed"
for h, w in expect.items():
    assert hosts[h]["watts"] == w, (h, hosts[h]["watts"], w)
    if w is None: assert "no_reading" in hosts[h] or not hosts[h]["ok"], h
for h in ("rf0004", "rf0005"):
    assert hosts[h]["ok"] and hosts[h]["watts"] is None and hosts[h]["no_reading"], hosts[h]
for h in [h for h in hosts if h.startswith("rf0010")]:
    assert not hosts[h]["ok"] and hosts[h]["error"] == "bmc-error", hosts[h]
assert hosts["rf0003"]["watts"] == 0.0, "a real zero is a reading"
assert hosts["rf0006-n1"]["facts"]["reading_source"] == "EnvironmentMetrics"
assert hosts["rf0007-n1"]["facts"]["reading_source"] == "EnvironmentMetrics"
assert hosts["rf0001"]["facts"]["reading_source"] == "Power"
for h in [h for h in hosts if h.startswith("rf0008")]:
    assert hosts[h]["facts"]["reading_source"] == "PowerSubsystem" and hosts[h]["facts"]["power_supplies"] == "2", hosts[h]
# Sums per circuit, PDU, phase from the configuration.
def sums(key):
    s = collections.defaultdict(lambda: [0.0, 0, 0])
    for h, hv in inv["hosts"].items():
        k = key(hv)
        s[k][1] += 1
        if expect[h] is not None: s[k][0] += expect[h]; s[k][2] += 1
    return s
pw = doc["power"]
c = sums(lambda hv: hv["circuit"])
assert {x["circuit"]: (x["watts"], x["nodes"], x["reporting"]) for x in pw["circuits"]} == {k: tuple(v) for k, v in c.items()}, pw["circuits"]
p = sums(lambda hv: hv["pdu"])
assert {x["pdu"]: (x["watts"], x["nodes"], x["reporting"]) for x in pw["pdus"]} == {k: tuple(v) for k, v in p.items()}, pw["pdus"]
ph = sums(lambda hv: (circ[hv["circuit"]]["feed"], circ[hv["circuit"]]["phase"]))
got = {(f["feed"], x["phase"]): (x["watts"], x["nodes"], x["reporting"]) for f in pw["feeds"] for x in f["phases"]}
assert got == {k: tuple(v) for k, v in ph.items()}, (got, dict(ph))
tot = sum(w for w in expect.values() if w is not None)
assert pw["total"]["watts"] == tot and pw["total"]["reporting"] == sum(w is not None for w in expect.values())
assert sorted(pw["total"]["no_reading"]) == sorted(h for h, w in expect.items() if w is None)
# Imbalance per feed, and the moves: each from the then-heaviest phase, each shrinking max-min.
for f in pw["feeds"]:
    load = {x["phase"]: x["watts"] for x in f["phases"]}
    mean = sum(load.values()) / len(load); spread = max(load.values()) - min(load.values())
    assert abs(f["imbalance"] - spread / mean) < 1e-9 and abs(f["spread_watts"] - spread) < 1e-9
    where = {h: circ[hv["circuit"]]["phase"] for h, hv in inv["hosts"].items() if circ[hv["circuit"]]["feed"] == f["feed"]}
    for m in f["moves"]:
        assert m["from_phase"] == max(load, key=load.get) and m["to_phase"] == min(load, key=load.get), m
        assert where[m["host"]] == m["from_phase"] and expect[m["host"]] == m["watts"], m
        assert circ[m["to_circuit"]]["phase"] == m["to_phase"] and circ[m["to_circuit"]]["feed"] == f["feed"]
        before = max(load.values()) - min(load.values())
        load[m["from_phase"]] -= m["watts"]; load[m["to_phase"]] += m["watts"]; where[m["host"]] = m["to_phase"]
        assert max(load.values()) - min(load.values()) < before, m
    assert abs(f["spread_watts_after"] - (max(load.values()) - min(load.values()))) < 1e-9
fa = [f for f in pw["feeds"] if f["feed"] == "A"][0]
assert fa["moves"], "feed A is unbalanced: moves are suggested"
print("ok: %d nodes, %d reporting, total %s W" % (len(expect), pw["total"]["reporting"], tot))
PY

expect_rc 1 "power --all (text)" fp power --all
cp "$T/out" "$T/power.txt"
check "text: per-node reading" grep -qx "rf0002: 512 W" "$T/power.txt"
check "text: the 0 W reading" grep -qx "rf0003: 0 W" "$T/power.txt"
check "text: no reading listed per node" grep -q "^rf0004: no reading (the chassis has no Power, EnvironmentMetrics or PowerSubsystem resource)" "$T/power.txt"
check "text: failing BMC folded" grep -q "^rf0010-n\[1-4\]: error: " "$T/power.txt"
check "text: circuit table says n/m reporting" grep -qE "^c1 +A +L1 +[0-9.]+ W +[0-9]+/[0-9]+$" "$T/power.txt"
check "text: no-reading list, not counted" grep -q "^no reading (not counted): " "$T/power.txt"
check "text: total n of m nodes reporting" grep -qE "^total: [0-9.]+ W from [0-9]+ of 25 nodes reporting" "$T/power.txt"
check "text: feed A imbalance and a move" grep -qE "^  move rf[0-9n-]+ \([0-9.]+ W\) from L[123]" "$T/power.txt"

# Prometheus: power and status, parsed by the reference client library's parser.
expect_rc 1 "power -o prometheus" fp power --all -o prometheus
cp "$T/out" "$T/power.prom"
expect_rc 1 "status -o prometheus" fp status --all -o prometheus
cp "$T/out" "$T/status.prom"
check "prometheus: parsed, values and labels as configured" /usr/bin/python3 - "$T/power.json" "$T/power.prom" "$T/status.prom" <<'PY'
import sys, json
from prometheus_client.parser import text_string_to_metric_families
doc = json.load(open(sys.argv[1]))
def parse(path):
    fams = {f.name: f for f in text_string_to_metric_families(open(path).read())}
    return fams, {f: [(s.labels, s.value) for s in fams[f].samples] for f in fams}
fams, p = parse(sys.argv[2])
hosts = {h["host"]: h for h in doc["hosts"]}
watts = {l["node"]: v for l, v in p["fleetpower_power_watts"]}
assert watts == {h: v["watts"] for h, v in hosts.items() if v["watts"] is not None}, "watts only for reporting nodes"
avail = {l["node"]: v for l, v in p["fleetpower_power_reading_available"]}
assert all(avail[h] == (0 if v["watts"] is None else 1) for h, v in hosts.items())
up = {l["node"]: v for l, v in p["fleetpower_up"]}
assert all(up[h] == (1 if v["ok"] else 0) for h, v in hosts.items())
err = {l["node"]: l for l, v in p["fleetpower_last_error"]}
assert set(err) == {h for h, v in hosts.items() if not v["ok"]} and all(l["kind"] == "bmc-error" for l in err.values())
for l, v in p["fleetpower_power_watts"]:
    assert l["circuit"] == hosts[l["node"]]["circuit"] and l["pdu"] == hosts[l["node"]]["pdu"] and l["phase"] == hosts[l["node"]]["phase"]
assert any(l["pdu"] == 'pdu "east" \\ 6' for l, v in p["fleetpower_power_watts"]), "escaped label value read back"
cw = {l["circuit"]: v for l, v in p["fleetpower_circuit_power_watts"]}
assert cw == {c["circuit"]: c["watts"] for c in doc["power"]["circuits"]}
pw = {(l["feed"], l["phase"]): v for l, v in p["fleetpower_phase_power_watts"]}
assert pw == {(f["feed"], x["phase"]): x["watts"] for f in doc["power"]["feeds"] for x in f["phases"]}
imb = {l["feed"]: v for l, v in p["fleetpower_feed_imbalance_ratio"]}
assert imb == {f["feed"]: f["imbalance"] for f in doc["power"]["feeds"]}
st = {l["node"]: v for l, v in p["fleetpower_power_state"]}
assert all(st[h] == (1 if v["state"] in ("on", "powering on") else 0) for h, v in hosts.items() if v["state"])
assert p["fleetpower_scrape_timestamp_seconds"][0][1] > 1.6e9
fams, s = parse(sys.argv[3])
assert "fleetpower_power_watts" not in s, "status has no watts"
sst = {l["node"]: v for l, v in s["fleetpower_power_state"]}
assert sst == st, "status and power agree on the power state"
assert {l["node"] for l, v in s["fleetpower_last_error"]} == set(err)
for name in s: assert fams[name].type == "gauge", name
print("ok: %d families in power, %d in status" % (len(p), len(s)))
PY
expect_rc 2 "-o prometheus is refused for other commands" fp on --all -o prometheus
check "-o prometheus refusal names the commands" contains "$T/err" "only for 'status' and 'power'"
finish
