/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Subcommands other than the live run (main.c). */
#ifndef TM_CMD_H
#define TM_CMD_H
/* `taskmem-trace report FILE [outputs]`: argv[0] is "report". Returns the exit code. */
int cmd_report(int argc, char **argv);
/* `taskmem-trace diff A.json B.json [outputs]`: argv[0] is "diff". Returns the exit code. */
int cmd_diff(int argc, char **argv);
/* `taskmem-trace scale --n N1,N2[,...] [options] -- COMMAND {N}`: argv[0] is "scale". */
int cmd_scale(int argc, char **argv);
#endif
