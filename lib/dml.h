/*
 * dml.h: the whole public API of libdml in one include, <dml/dml.h>.
 *
 * Each module's header is public on its own too (<dml/record.h>,
 * <dml/sign.h>, ...); they are listed here by layer, lowest first, as
 * lib/ keeps them (a module uses only its own layer and those below).
 * dml(3) says what each is for, who frees what, how errors are reported
 * and what is thread-safe. Link with `pkg-config --cflags --libs libdml`.
 *
 * Not here: the programs' command-line parser (cli, which exits the
 * process) and two modules' internals (pipeline, cnn).
 */
#ifndef DML_DML_H
#define DML_DML_H

/* base: records, tensors, diagnostics and the small shared pieces */
#include "util.h"
#include "record.h"
#include "tensor.h"
#include "rng.h"
#include "timefmt.h"
#include "amount.h"

/* crypto: signatures, content ids, homomorphic encryption, sharing */
#include "sha256.h"
#include "keccak.h"
#include "cid.h"
#include "sign.h"
#include "keyset.h"
#include "fixedpoint.h"
#include "paillier.h"
#include "shamir.h"
#include "merkle.h"

/* ml: datasets, models, device tasks, robust rules */
#include "data.h"
#include "model.h"
#include "task.h"
#include "robust.h"
#include "split.h"

/* net: IPFS and Ethereum clients */
#include "rlp.h"
#include "eth.h"
#include "kubo.h"
#include "ipfs.h"

/* protocol: jobs, sealed records, aggregation, reports, privacy */
#include "job.h"
#include "envelope.h"
#include "aggregate.h"
#include "report.h"
#include "dp.h"
#include "weight.h"
#include "distribute.h"
#include "devrun.h"
#include "secagg.h"

/* ledger: settlement, the embedded ledger, marketplace, auction */
#include "settle.h"
#include "ledger.h"
#include "market.h"
#include "auction.h"

/* chain: the DML contracts on Ethereum */
#include "chain.h"

#endif
