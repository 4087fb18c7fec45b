/* Umbrella header for libshrink. */
#ifndef SHRINK_H
#define SHRINK_H

#define SHRINK_VERSION "0.1.0"

#include "shrink/status.h"
#include "shrink/tensor.h"
#include "shrink/rng.h"
#include "shrink/threads.h"
#include "shrink/graph.h"
#include "shrink/data.h"
#include "shrink/train.h"
#include "shrink/zoo.h"
#include "shrink/io.h"
#include "shrink/runtime.h"
#include "shrink/report.h"
#include "shrink/prune.h"
#include "shrink/quant.h"
#include "shrink/distill.h"

#endif
