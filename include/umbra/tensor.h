// umbra's tensor library in one include: shapes, tensors, streams, expressions and their
// evaluation on cpu and gpu, dot, random numbers and every extension. Usable alone, like mshadow:
//   Tensor<cpu, 2> a = ..., b = ...; a = F<op::relu>(a * 2 + b);
// Statements on gpu tensors generate kernels and must be compiled by nvcc (.cu files).
#pragma once

#include "umbra/base.h"
#include "umbra/tensor/cpu/threads.h"
#include "umbra/tensor/dot.h"
#include "umbra/tensor/engine.h"
#include "umbra/tensor/expression.h"
#include "umbra/tensor/functors.h"
#include "umbra/tensor/memory.h"
#include "umbra/tensor/random.h"
#include "umbra/tensor/shape.h"
#include "umbra/tensor/stream.h"
#include "umbra/tensor/tensor.h"
#include "umbra/tensor/ext/all.h"
