/* SPDX-License-Identifier: MIT */
/* A process's threads by name, from /proc: shared by the tests and the benchmarks. */
#ifndef IDSR_PROC_THREADS_H
#define IDSR_PROC_THREADS_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* How many of pid's live threads are named name (their comm), -1 if pid is
 * gone; with cpu_s, also their CPU time in seconds (schedstat, ns). */
static inline int proc_threads_named(pid_t pid, const char *name, double *cpu_s)
{
	char path[320], comm[32];
	unsigned long long ns;
	struct dirent *e;
	int n = 0;
	DIR *d;

	if (cpu_s)
		*cpu_s = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;	/* ended meanwhile */
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name))
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
		if (cpu_s && (f = fopen(path, "r"))) {
			if (fscanf(f, "%llu", &ns) == 1)
				*cpu_s += (double)ns / 1e9;
			fclose(f);
		}
	}
	closedir(d);
	return n;
}

#endif
