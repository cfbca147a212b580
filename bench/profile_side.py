"""umbra's per-layer GPU profile (bench_train_gpu --profile: profile-gpu.jsonl) beside PyTorch's
(train_torch.py --profile: profile-torch.jsonl), per net: time by layer type, and for the nets
whose convolutions come in the same order on both sides, each convolution with what umbra's
cuDNN search picked and the kernels PyTorch's cuDNN ran. What the AlexNet gap of the first
device run needed and did not have: where, layer by layer, PyTorch's step is shorter.

umbra's figures are CUDA-event intervals between its layers (a layer's kernels plus any wait for
the host to launch them); PyTorch's are the sums of its kernels' own durations (torch.profiler),
which leave launch gaps out: a type where umbra is launch-bound shows up as umbra's loss here.
"""
import json
import os

# Nets whose convolutions run in the same order in umbra's configs and in train_torch.py (the
# ResNets' shortcut convolutions come at another place in each): their per-convolution rows.
CHAIN_NETS = ("lenet", "cifar", "alexnet")


def read_rows(path):
    """{net: row} of a JSON-lines file; {} when it is missing."""
    rows = {}
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                r = json.loads(line)
                rows[r["net"]] = r
    return rows


def umbra_by_type(u):
    """{type: [fwd ms, bwd ms]} of umbra's profile row, its updates as type "update"."""
    out = {}
    for layer in u["layers"]:
        t = out.setdefault(layer["type"], [0.0, 0.0])
        t[0] += layer["fwd_ms"]
        t[1] += layer["bwd_ms"]
    out["update"] = [0.0, u.get("update_ms", 0.0)]
    return out


def ratio(peer, ours):
    return f"{peer / ours:.2f}" if ours > 0 and peer > 0 else "-"


def net_tables(n, u, p):
    """The markdown of one net: by type, then per convolution where CHAIN_NETS has it."""
    where = "of kernels" if p.get("device") == "cuda" else "on the host"
    lines = [f"### {n}: umbra {u['device_ms']:.2f} ms a step (events), PyTorch {p['step_ms']:.2f} ms {where} "
             f"(torch {p.get('torch', '?')})", "",
             "| type | umbra fwd ms | umbra bwd ms | PyTorch fwd ms | PyTorch bwd ms | PyTorch / umbra |",
             "|---|---|---|---|---|---|"]
    ub, pb = umbra_by_type(u), p["by_type"]
    types = sorted(set(ub) | set(pb), key=lambda t: -max(sum(ub.get(t, [0, 0])), sum(pb.get(t, [0, 0]))))
    for t in types:
        uf, ubw = ub.get(t, [0.0, 0.0])
        pf, pbw = pb.get(t, [0.0, 0.0])
        lines.append(f"| {t} | {uf:.3f} | {ubw:.3f} | {pf:.3f} | {pbw:.3f} | {ratio(pf + pbw, uf + ubw)} |")
    lines.append("")
    ucv = [layer for layer in u["layers"] if layer["type"] == "conv"]
    pcv = p.get("convs", [])
    if n in CHAIN_NETS and ucv and len(ucv) == len(pcv):
        lines += ["| conv | weight | umbra fwd ms | PyTorch fwd ms | umbra bwd ms | PyTorch bwd ms | umbra ran "
                  "| PyTorch's costliest kernels, fwd; bwd |", "|---|---|---|---|---|---|---|---|"]
        for a, b in zip(ucv, pcv):
            kern = "; ".join(", ".join(f"{k[0][:60]} {k[1]:.3f}" for k in b[key]) or "-"
                             for key in ("fwd_kernels", "bwd_kernels"))
            shape = "x".join(str(d) for d in b["weight"])
            lines.append(f"| {a['name']} | {shape} | {a['fwd_ms']:.3f} | {b['fwd_ms']:.3f} | {a['bwd_ms']:.3f} "
                         f"| {b['bwd_ms']:.3f} | {a.get('how', '')} | {kern} |")
        lines.append("")
    return lines


def side_by_side(umbra_path, torch_path):
    """The markdown for every net both files have; a line saying what is missing otherwise."""
    ours, peer = read_rows(umbra_path), read_rows(torch_path)
    out = []
    for n, u in ours.items():
        p = peer.get(n)
        if p is None or "error" in p:
            out += [f"### {n}: no PyTorch profile ({(p or {}).get('error', 'none written')})", ""]
            continue
        out += net_tables(n, u, p)
    return "\n".join(out) if out else f"no profiles to set side by side ({umbra_path}, {torch_path})"
