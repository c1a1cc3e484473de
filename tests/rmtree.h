/* SPDX-License-Identifier: MIT */
/* Removing a scratch directory and all in it: shared by the tests and the benchmarks. */
#ifndef IDSR_RMTREE_H
#define IDSR_RMTREE_H

#include <ftw.h>
#include <stdio.h>

static inline int rmtree_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st; (void)type; (void)ftw;
	return remove(path);
}

/* Removes dir and everything under it (no shell, so any name is safe):
 * 0, or -1 with errno from the first entry that could not be removed. */
static inline int rmtree(const char *dir)
{
	return nftw(dir, rmtree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
