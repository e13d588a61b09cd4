/*
 * report: the customer's report from a final aggregate, and its human
 * rendering (Markdown and an SVG bar chart).
 *
 * The report holds means, never a device's own values: the aggregate it is
 * made from holds only sums over at least min_devices devices. That rule
 * is here, not in a program: report_make withholds the report below it,
 * and report_build and report_encrypted refuse such an aggregate.
 *
 * For a Paillier job the report node cannot form means: it writes the
 * encrypted report (the aggregate's ciphertext sums and its clear counts)
 * and the customer decrypts the sums into an f64 aggregate, from which
 * the same report_build makes the plain report.
 * Not for: sealing or storing the report (sign, ipfs).
 */
#ifndef DML_REPORT_H
#define DML_REPORT_H

#include <jansson.h>

#include "job.h"
#include "keyset.h"
#include "paillier.h"
#include "record.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The report node's step, in two calls: the final aggregate, then the
 * report of it or, below the job's min_devices, the dml.withheld record.
 * A program or library user making reports calls these two. */

/* Read the one dml.aggregate of `in`: signed (verified), of job j, by a
 * key of `trust` when it is not NULL, and alone (a second record is an
 * error: the nodes' aggregates are combined by dml-aggregate first). A
 * new reference, detached from the input's line; NULL with dml_error
 * "file:line: what" (an empty input: "file: empty input"). */
json_t *report_read_aggregate(const dml_job *j, rec_in *in,
    const keyset *trust);
/* The min-devices rule and the report. Below the job's min_devices the
 * unsigned dml.withheld record, *withheld set to 1: a report of so few
 * devices could reveal one of them. Else the unsigned dml.report, with
 * *withheld 0: report_encrypted for a Paillier job; report_build (the
 * data's class names) for a plain one, with "from" the report node's
 * key `node` (the rendering names it) and rendered; with `privacy` (a
 * file of dml.privacy records, or NULL) its "privacy" (report_privacy).
 * The caller signs it (with the key of `node`) and seals it. `agg` is a
 * verified aggregate of the job (report_read_aggregate). NULL with
 * dml_error "file:line: what". */
json_t *report_make(const dml_job *j, const json_t *agg, const rec_in *in,
    const unsigned char node[32], const char *privacy, int *withheld);

/* Build the unsigned dml.report from a verified dml.aggregate of the job.
 * class_names may be NULL. An aggregate below the job's min_devices is
 * refused (report_make withholds it instead). Returns NULL with
 * dml_error. */
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
/* The kept trainers of a file of signed dml.weight records for the job,
 * as the contributions' "trainers" list [{key, weight}] sorted by key.
 * NULL with dml_error on a bad record, a bad signature, another job or a
 * trainer named twice. */
json_t *report_trainers(const dml_job *j, const char *path);
/* The report's "privacy" from a file of dml.privacy records (dml-privacy
 * account): the last record's epsilon, delta, rounds, mode, noise, clip,
 * sample rate and accountant. The records are checked as by
 * report_privacy_last; an empty file is an error. NULL with dml_error
 * "file:line: what". */
json_t *report_privacy(const dml_job *j, const char *path);
/* The last record of a privacy ledger (a file of dml.privacy records, as
 * dml-privacy account --spent keeps it): every record must be of job j,
 * with a round and an epsilon, in increasing rounds, and verify if
 * signed. *last is NULL for an empty file; *line is the last line read.
 * -1 with dml_error "file:line: what". */
int report_privacy_last(const dml_job *j, const char *path, json_t **last,
    long *line);
/* The ledger at path before dml-privacy account adds a round: *last as
 * by report_privacy_last (NULL, and *text NULL, when the file does not
 * exist or is empty), *text and *len the file's bytes for the rewrite.
 * -1 with dml_error on a bad ledger or one whose last epsilon is already
 * past the job's budget. */
int report_privacy_spent(const dml_job *j, const char *path, json_t **last,
    char **text, size_t *len);
/* Rewrite the ledger at path whole: its old bytes text[len] and then pr
 * as one canonical line. -1 with dml_error. */
int report_privacy_append(const char *path, const char *text, size_t len,
    const json_t *pr);
/* Markdown and SVG renderings of a report (malloc'd strings). */
char *report_markdown(const json_t *report);
char *report_svg(const json_t *report);
/* Set the report's "render": {"markdown", "svg"}. */
void report_render(json_t *report);

/* The unsigned encrypted dml.report ("encryption":"paillier") of a
 * verified aggregate of a Paillier job: its encrypted "sum", checked
 * against the job's key, and the clear counts. Refused below the job's
 * min_devices, as report_build. */
json_t *report_encrypted(const dml_job *j, const json_t *agg,
    const rec_in *in);
/* The customer: the f64 sums of a Paillier aggregate or encrypted report
 * of the job ("sum" decrypted, every slot checked against the job's
 * bound), as an unsigned dml.aggregate whose "decrypted_from" is the
 * input's signer. */
json_t *report_decrypt_aggregate(const dml_job *j, const json_t *agg,
    const rec_in *in, const paillier_sk *sk);
/* The customer: the plain, unsigned, unrendered dml.report of an
 * encrypted report (its "report_node" is the encrypted report's signer).
 * Refused below the job's min_devices. */
json_t *report_decrypt(const dml_job *j, const json_t *rep, const rec_in *in,
    const paillier_sk *sk, const char *const *class_names, int nnames);
/* Names of the classes of a known data type, or NULL. */
const char *const *report_class_names(const char *datatype, int *n);

#ifdef __cplusplus
}
#endif

#endif
