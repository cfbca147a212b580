// Every extension header; extensions are added here one line each.
#pragma once

#include "umbra/tensor/ext/broadcast.h"
#include "umbra/tensor/ext/patch2col.h"
#include "umbra/tensor/ext/pool.h"
#include "umbra/tensor/ext/reduce.h"
#include "umbra/tensor/ext/softmax.h"
#include "umbra/tensor/ext/reshape.h"
#include "umbra/tensor/ext/swapaxis.h"
#include "umbra/tensor/ext/transpose.h"
#include "umbra/tensor/ext/slice.h"
#include "umbra/tensor/ext/concat.h"
#include "umbra/tensor/ext/pad.h"
#include "umbra/tensor/ext/crop.h"
#include "umbra/tensor/ext/mirror.h"
#include "umbra/tensor/ext/tcast.h"
#include "umbra/tensor/ext/one_hot.h"
#include "umbra/tensor/ext/take.h"
