/*
 * report: the customer's report from a final aggregate, and its human
 * rendering (Markdown and an SVG bar chart).
 *
 * The report holds means, never a device's own values: the aggregate it is
 * made from holds only sums over at least min_devices devices.
 * Not for: sealing or storing the report (sign, ipfs).
 */
#ifndef DML_REPORT_H
#define DML_REPORT_H

#include <jansson.h>

#include "job.h"
#include "record.h"

/* Build the unsigned dml.report from a verified dml.aggregate of the job.
 * class_names may be NULL. Returns NULL with dml_error. */
json_t *report_build(const dml_job *j, const json_t *agg, const rec_in *in,
    const char *const *class_names, int nnames);
/* The unsigned dml.withheld record for an aggregate below min_devices. */
json_t *report_withheld(const dml_job *j, const json_t *agg);
/* The unsigned dml.contributions record settlement pays from: the devices
 * of the aggregate, the federated nodes inside it (or its signer), the
 * report node, the optional refining and distributing nodes (arrays of
 * hex keys, may be NULL) and the job's developer. */
json_t *report_contributions(const dml_job *j, const json_t *agg,
    const char *report_node, const json_t *refining,
    const json_t *distributing);
/* Markdown and SVG renderings of a report (malloc'd strings). */
char *report_markdown(const json_t *report);
char *report_svg(const json_t *report);
/* Names of the classes of a known data type, or NULL. */
const char *const *report_class_names(const char *datatype, int *n);

#endif
