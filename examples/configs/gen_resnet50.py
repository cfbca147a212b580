#!/usr/bin/env python3
"""Writes resnet50.conf: ResNet-50 in cxxnet syntax, too long to keep by hand (53 convolutions).

torchvision's layout (ResNet v1.5: the stride of a down-sampling bottleneck is on its 3x3
convolution), 25,557,032 weights. The stem, pooling and training keys are resnet18.conf's.
  python3 examples/configs/gen_resnet50.py > examples/configs/resnet50.conf
"""

HEAD = """\
# ResNet-50 (He et al. 2016, table 1) in cxxnet syntax, torchvision's layout: 3x224x224 input,
# 1000 classes, 25,557,032 weights (torchvision.models.resnet50's count). Written by
# gen_resnet50.py beside it; edit that, not this. A bottleneck block is a split, 1x1 -> 3x3 -> 1x1
# conv + batch_norm on one branch (4x channels out), the identity or a 1x1 conv + batch_norm
# shortcut where the shape changes, eltwise_sum and relu. As torchvision (v1.5), a stride-2
# block strides in its 3x3 convolution. Data paths are placeholders, and
# inputs scaled, as in resnet18.conf.

data = train
iter = imgrec
  image_rec  = "./data/imagenet/train.rec"
  image_mean = "./data/imagenet/mean_224.bin"
  divideby = 58
  rand_crop = 1
  rand_mirror = 1
  shuffle = 1
iter = threadbuffer
iter = end

eval = val
iter = imgrec
  image_rec  = "./data/imagenet/val.rec"
  image_mean = "./data/imagenet/mean_224.bin"
  divideby = 58
iter = end

netconfig = start
layer[0->stem.conv] = conv:conv1
  kernel_size = 7
  stride = 2
  pad = 3
  nchannel = 64
  no_bias = 1
layer[stem.conv->stem.bn] = batch_norm:bn1
layer[stem.bn->stem.relu] = relu:relu1
layer[stem.relu->s0] = max_pooling:pool1
  kernel_size = 3
  stride = 2
"""

TAIL = """\
layer[{last}->pool] = global_avg_pooling:pool5
layer[pool->flat] = flatten:flatten
layer[flat->fc] = fullc:fc
  nhidden = 1000
layer[fc->fc] = softmax:softmax
netconfig = end

input_shape = 3,224,224
batch_size = 256

init = kaiming
metric = error
metric = rec@5
max_round = 90
num_round = 90
save_model = 1
model_dir = models

# SGD with momentum, lr / 10 every 30 epochs of 5005 batches; no weight decay on biases.
updater = sgd
momentum = 0.9
eta = 0.1
wd = 0.0001
bias:wd = 0
lr:schedule = factor
lr:factor = 0.1
lr:step = 150150
"""


def conv(src, dst, name, k, c, stride=1):
    pad = (k - 1) // 2
    lines = [f"layer[{src}->{dst}] = conv:{name}", f"  kernel_size = {k}"]
    if stride != 1:
        lines.append(f"  stride = {stride}")
    if pad:
        lines.append(f"  pad = {pad}")
    lines += [f"  nchannel = {c}", "  no_bias = 1"]
    return lines


def block(src, b, width, stride, project):
    """Bottleneck `b` (e.g. res2a) reading node src; returns its lines and its output node."""
    out = [f"# {b}: {width} -> {4 * width} channels" + (f", stride {stride}" if stride != 1 else "")
           + (", projection shortcut" if project else "")]
    out.append(f"layer[{src}->{b}.x,{b}.id] = split:{b}_split")
    prev = f"{b}.x"
    for i, (k, c, s) in enumerate(((1, width, 1), (3, width, stride), (1, 4 * width, 1)), 1):
        out += conv(prev, f"{b}.c{i}", f"{b}_conv{i}", k, c, s)
        out.append(f"layer[{b}.c{i}->{b}.b{i}] = batch_norm:{b}_bn{i}")
        prev = f"{b}.b{i}"
        if i < 3:
            out.append(f"layer[{prev}->{b}.r{i}] = relu:{b}_relu{i}")
            prev = f"{b}.r{i}"
    shortcut = f"{b}.id"
    if project:
        out += conv(shortcut, f"{b}.dc", f"{b}_down", 1, 4 * width, stride)
        out.append(f"layer[{b}.dc->{b}.db] = batch_norm:{b}_down_bn")
        shortcut = f"{b}.db"
    out.append(f"layer[{prev},{shortcut}->{b}.sum] = eltwise_sum:{b}_sum")
    out.append(f"layer[{b}.sum->{b}] = relu:{b}_relu")
    return out, b


def main():
    lines, node = [], "s0"
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), 2):
        for j in range(blocks):
            b, node = block(node, f"res{stage}{'abcdef'[j]}", width, stride if j == 0 else 1, j == 0)
            lines += b
    print(HEAD + "\n".join(lines) + "\n" + TAIL.format(last=node), end="")


if __name__ == "__main__":
    main()
