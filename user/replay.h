/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* `report run.tmt`: a recording replayed through the same core that wrote it. The events go to
 * account__event, the refreshes and the end where the live run made them, and world.c answers
 * every question from the recording (refusing one that differs from what was recorded). */
#ifndef TM_REPLAY_H
#define TM_REPLAY_H
#include <stddef.h>
#include "account.h"
#include "rectypes.h"
#include "report.h"

struct replay;

/* Open a recording and read its run information (RUN_INFO). 0, or -errno with a one-line
 * message ("PATH: what is wrong") in msg. */
int replay__open(struct replay **out, const char *path, char *msg, size_t msglen);
const struct rt_run_info *replay__run_info(const struct replay *r);
/* Every record through the core, to the end record; 0 (the account is complete) or -errno
 * with msg. Nothing derived from the recording may be written before this returned 0. */
int replay__run(struct replay *r, char *msg, size_t msglen);
struct account *replay__account(const struct replay *r);
/* The reports' run information, as the live run gave it (strings owned by r). */
void replay__report_info(const struct replay *r, struct report_info *ri);
void replay__free(struct replay *r);
#endif
