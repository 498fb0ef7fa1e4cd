"""Does oneDNN round a frozen ResNet-50 trunk differently by batch position or size?

Plain torchvision (no skmedtl), random weights, eval mode, 1 thread: ``layer3`` output
of 32 random images vs the same images permuted, and of the first 6 alone. See
``RESULTS.md`` (frozen-trunk caching).

Usage::

    nice python benchmarks/finetune/batch_rounding.py
"""

import torch
import torchvision

torch.manual_seed(0)
torch.set_num_threads(1)
m = torchvision.models.resnet50().eval()
trunk = torch.nn.Sequential(
    m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3
)
x = torch.randn(32, 3, 224, 224)
perm = torch.randperm(32)
for fmt in (torch.contiguous_format, torch.channels_last):
    t = trunk.to(memory_format=fmt)
    with torch.no_grad():
        a = t(x.contiguous(memory_format=fmt))
        b = t(x[perm].contiguous(memory_format=fmt))[torch.argsort(perm)]
        c = t(x[:6].contiguous(memory_format=fmt))
    print(
        fmt,
        "same images, shuffled batch: max|diff|",
        float((a - b).abs().max()),
        "max|a|",
        float(a.abs().max()),
        "frac differing",
        float((a != b).float().mean()),
        "| first 6 alone:",
        float((a[:6] - c).abs().max()),
    )
