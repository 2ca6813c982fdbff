#!/usr/bin/python3
"""Writes rotary_pytorch.json: rotary self-attention layers run forward and backward in PyTorch.

Each case holds the parameters (nn.MultiheadAttention names and layout: in_proj_weight rows q, then k, then v),
one input sequence, the output, and the autograd gradients of sum(r * output) for a given r with respect to the
input and every parameter. The rotation follows the Hugging Face Llama / GPT-NeoX convention in float32, as those
models compute it: inverse frequencies base^(-2i/D), angles position * inverse frequency, the frequencies repeated
across both halves of a head, and x * cos + rotate_half(x) * sin with rotate_half(x) = (-x[D/2:], x[:D/2]).
Grouped-query heads share key/value head h // (heads / kv_heads), as Llama's repeat_kv arranges them.

Run with Debian's PyTorch (apt-get install python3-torch): /usr/bin/python3 make_rotary_fixtures.py
"""
import json
import math
import os

import torch

CASES = [
    # name, heads, kv_heads, head_dim, seq_len, causal, base, seed
    ("gqa_causal", 4, 2, 8, 11, True, 10000.0, 1),
    ("mha_base100", 2, 2, 6, 7, False, 100.0, 2),
]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rotary(x, base):
    # x: [heads, seq, head_dim]
    dim, seq = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    positions = torch.arange(seq, dtype=torch.float32)
    freqs = torch.outer(positions, inv_freq)
    angles = torch.cat((freqs, freqs), dim=-1)
    return x * angles.cos() + rotate_half(x) * angles.sin()


def forward(x, w_in, b_in, w_out, b_out, heads, kv_heads, head_dim, causal, base):
    seq = x.shape[0]
    qw, kvw = heads * head_dim, kv_heads * head_dim
    projected = torch.nn.functional.linear(x, w_in, b_in)
    q, k, v = projected[:, :qw], projected[:, qw:qw + kvw], projected[:, qw + kvw:]
    q = q.reshape(seq, heads, head_dim).transpose(0, 1)
    k = k.reshape(seq, kv_heads, head_dim).transpose(0, 1)
    v = v.reshape(seq, kv_heads, head_dim).transpose(0, 1)
    q, k = rotary(q, base), rotary(k, base)
    group = heads // kv_heads
    k = k.repeat_interleave(group, dim=0)
    v = v.repeat_interleave(group, dim=0)
    scores = q @ k.transpose(1, 2) / math.sqrt(head_dim)
    if causal:
        mask = torch.ones(seq, seq, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(mask, float("-inf"))
    context = torch.softmax(scores, dim=-1) @ v
    context = context.transpose(0, 1).reshape(seq, qw)
    return torch.nn.functional.linear(context, w_out, b_out)


def case(name, heads, kv_heads, head_dim, seq, causal, base, seed):
    generator = torch.Generator().manual_seed(seed)
    model = heads * head_dim

    def uniform(*shape, scale=1.0):
        return ((torch.rand(*shape, generator=generator) * 2 - 1) * scale).requires_grad_()

    params = {
        "in_proj_weight": uniform((heads + 2 * kv_heads) * head_dim, model, scale=0.3),
        "in_proj_bias": uniform((heads + 2 * kv_heads) * head_dim, scale=0.3),
        "out_proj.weight": uniform(model, model, scale=0.3),
        "out_proj.bias": uniform(model, scale=0.3),
    }
    x = uniform(seq, model)
    r = uniform(seq, model).detach()
    y = forward(x, params["in_proj_weight"], params["in_proj_bias"], params["out_proj.weight"], params["out_proj.bias"],
                heads, kv_heads, head_dim, causal, base)
    (y * r).sum().backward()

    def flat(t):
        # nine significant digits round-trip a float32
        return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]

    return {
        "name": name, "heads": heads, "kvHeads": kv_heads, "headDim": head_dim, "seqLen": seq, "causal": causal,
        "rotaryBase": base,
        "parameters": {k: flat(v) for k, v in params.items()},
        "input": flat(x), "outputGrad": flat(r), "output": flat(y),
        "inputGrad": flat(x.grad),
        "parameterGrads": {k: flat(v.grad) for k, v in params.items()},
    }


def main():
    fixture = {
        "generator": f"make_rotary_fixtures.py with PyTorch {torch.__version__}",
        "cases": [case(*c) for c in CASES],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rotary_pytorch.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
