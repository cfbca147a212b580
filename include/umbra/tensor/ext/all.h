// Every extension header; extensions are added here one line each.
#pragma once

#include "umbra/tensor/ext/broadcast.h"
#include "umbra/tensor/ext/patch2col.h"
#include "umbra/tensor/ext/pool.h"
#include "umbra/tensor/ext/reduce.h"
#include "umbra/tensor/ext/softmax.h"
