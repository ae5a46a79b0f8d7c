// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* unwind_wait's library, built -fomit-frame-pointer: lib_call keeps no frame pointer */
int lib_count;

__attribute__((noinline)) void lib_call(void (*f)(char *), char *p)
{
	f(p);
	lib_count++; /* not a tail call: lib_call's frame is on the stack under f */
}
