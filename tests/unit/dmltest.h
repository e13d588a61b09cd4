/* dmltest: what the unit tests of lib/ share beyond TAP: the text of the
 * last library error, and Fashion-MNIST from the Debian package
 * dataset-fashion-mnist. */
#ifndef DML_DMLTEST_H
#define DML_DMLTEST_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data.h"
#include "tap.h"
#include "util.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* Does the last error (dml_errmsg) say S? Prints it when not. */
static inline int
err_has(const char *s)
{
	int ok_ = strstr(dml_errmsg(), s) != NULL;

	if (!ok_)
		printf("#   error was: %s\n", dml_errmsg());
	return ok_;
}

/* Load Fashion-MNIST's training and t10k sets: 0 when loaded; 1 when the
 * package is not installed (one skip line printed; the caller returns);
 * -1 when a file does not load (a failed test printed). */
static inline int
fmnist_load(dml_data *tr, dml_data *te)
{
	if (access(FMNIST "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
		ok(1, "# skip Fashion-MNIST not installed");
		return 1;
	}
	if (data_load_idx(tr, FMNIST "/train-images-idx3-ubyte.gz",
	    FMNIST "/train-labels-idx1-ubyte.gz") < 0)
		goto bad;
	if (data_load_idx(te, FMNIST "/t10k-images-idx3-ubyte.gz",
	    FMNIST "/t10k-labels-idx1-ubyte.gz") < 0) {
		data_free(tr);
		goto bad;
	}
	return 0;
bad:
	ok(0, "Fashion-MNIST loads: %s", dml_errmsg());
	return -1;
}

#endif
