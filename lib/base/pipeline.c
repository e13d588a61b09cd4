/* pipeline: canonical copies of records hashed on a worker thread. */
#include "pipeline.h"
#include "util.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum { SLOT_IDLE, SLOT_QUEUED, SLOT_DONE };

struct slot {
	int state;
	unsigned long seq;		/* submission order */
	unsigned char *buf;		/* canonical bytes */
	size_t len, cap;
	unsigned char d[64];
};

struct pipeline {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t thread;
	int threaded, stop;
	unsigned long seq;
	struct slot s[PIPELINE_SLOTS];
};

static void
hash(struct slot *s)
{
	crypto_generichash(s->d, 64, s->buf, s->len, NULL, 0);
}

/* The oldest queued slot, or NULL. */
static struct slot *
next_queued(pipeline *p)
{
	struct slot *best = NULL;

	for (int i = 0; i < PIPELINE_SLOTS; i++)
		if (p->s[i].state == SLOT_QUEUED &&
		    (!best || p->s[i].seq < best->seq))
			best = &p->s[i];
	return best;
}

static void *
worker(void *arg)
{
	pipeline *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct slot *s = NULL;
		while (!p->stop && !(s = next_queued(p)))
			pthread_cond_wait(&p->work, &p->mu);
		if (!s)
			break;		/* stopped */
		/* the caller leaves a queued slot alone until it is done */
		pthread_mutex_unlock(&p->mu);
		hash(s);
		pthread_mutex_lock(&p->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

pipeline *
pipeline_new(void)
{
	pipeline *p = xcalloc(1, sizeof *p);

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->threaded = pthread_create(&p->thread, NULL, worker, p) == 0;
	return p;
}

/* Wait until the slot is not being hashed; leave it idle. */
static void
settle(pipeline *p, struct slot *s)
{
	pthread_mutex_lock(&p->mu);
	while (s->state == SLOT_QUEUED)
		pthread_cond_wait(&p->done, &p->mu);
	s->state = SLOT_IDLE;
	pthread_mutex_unlock(&p->mu);
}

static int
copy_sink(void *ctx, const void *src, size_t n)
{
	struct slot *s = ctx;

	if (s->cap - s->len < n) {
		s->cap = (s->len + n) + (s->len + n) / 4 + 4096;
		s->buf = xrealloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, src, n);
	s->len += n;
	return 0;
}

int
pipeline_submit(pipeline *p, int slot, const json_t *r, const rec_in *src)
{
	struct slot *s = &p->s[slot];

	settle(p, s);
	s->len = 0;
	if (canon_emit(r, src, "sig", copy_sink, s) < 0)
		return -1;
	if (!p->threaded) {
		hash(s);
		s->state = SLOT_DONE;
		return 0;
	}
	pthread_mutex_lock(&p->mu);
	s->seq = p->seq++;
	s->state = SLOT_QUEUED;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
pipeline_digest(pipeline *p, int slot, unsigned char d[64])
{
	struct slot *s = &p->s[slot];
	int rc = 0;

	pthread_mutex_lock(&p->mu);
	while (s->state == SLOT_QUEUED)
		pthread_cond_wait(&p->done, &p->mu);
	if (s->state == SLOT_DONE)
		memcpy(d, s->d, 64);
	else
		rc = dml_error("internal: no record submitted in slot %d", slot);
	s->state = SLOT_IDLE;
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
pipeline_free(pipeline *p)
{
	if (!p)
		return;
	if (p->threaded) {
		pthread_mutex_lock(&p->mu);
		while (next_queued(p))
			pthread_cond_wait(&p->done, &p->mu);
		p->stop = 1;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	for (int i = 0; i < PIPELINE_SLOTS; i++)
		free(p->s[i].buf);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}
