/* SPDX-License-Identifier: MIT */
/* idsr-vmm's command line: flags other tools and tests rely on (issue 3). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "vmm.h"

static const char opts_usage[] =
	"usage: " VMM_NAME " [options] GUEST.bin\n"
	"Runs a flat AArch64 (or AArch32) guest binary on Unicorn, one thread per vCPU,\n"
	"and forwards every access to an IMPLEMENTATION DEFINED system register to idsrd.\n"
	"\n"
	"  --socket PATH         idsrd's VMM socket (default: $IDSRD_SOCKET, else idsrd's default;\n"
	"                        here %s)\n"
	"  --vcpus N             number of vCPUs, 1-64 (default 1); x0/r0 = vCPU index\n"
	"  --base ADDR           load address and entry point (default 0x40000000)\n"
	"  --mem MIB             guest RAM in MiB, shared by all vCPUs (default 64)\n"
	"  --aarch32             the guest is AArch32 code, entered in ARM state (Thumb-2 is decoded too)\n"
	"  --el0                 enter the guest at EL0 (AArch32: USR mode)\n"
	"  --vm NAME             VM name sent to idsrd (default: the guest file's name, no .bin)\n"
	"  --kernel STR          guest kernel description sent to idsrd (default: as --vm)\n"
	"  --slide N             KASLR slide sent to idsrd (default 0)\n"
	"  --midr HEX            the guest's MIDR_EL1: sent to idsrd (names the implementation)\n"
	"                        and, on AArch64, what the guest reads; MPIDR_EL1 = vCPU index\n"
	"  --undef vector|skip|stop\n"
	"                        on UNDEF: inject it into the guest's vector (default), step over\n"
	"                        the instruction, or stop the vCPU\n"
	"  --regs-out FILE       write every vCPU's final registers as JSON\n"
	"  --local raz           answer in-process (reads as zero, writes ignored, EL0 UNDEF);\n"
	"                        no daemon: the baseline for measuring what idsrd costs\n"
	"  --no-reconnect        stop a vCPU when idsrd goes away (default: reconnect, resume the\n"
	"                        boot and re-send what idsrd had not committed; an access waits up\n"
	"                        to 60 s for idsrd, then the vCPU gets UNDEF until it is back)\n"
	"  -h, --help            this text\n"
	"\n"
	"A vCPU ends at brk #0 (AArch64) or bkpt #0 (AArch32); Ctrl-C (or SIGTERM) stops\n"
	"them all. Exit status: 0 when every vCPU got there, 1 when one stopped otherwise\n"
	"(the message names vCPU and PC), 2 on a bad command line.\n";

enum { OPT_SOCKET = 256, OPT_VCPUS, OPT_BASE, OPT_MEM, OPT_AARCH32, OPT_EL0, OPT_VM,
	OPT_KERNEL, OPT_SLIDE, OPT_MIDR, OPT_UNDEF, OPT_REGS_OUT, OPT_LOCAL, OPT_NO_RECONNECT };

static const struct option opts_long[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "vcpus", required_argument, NULL, OPT_VCPUS },
	{ "base", required_argument, NULL, OPT_BASE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "aarch32", no_argument, NULL, OPT_AARCH32 },
	{ "el0", no_argument, NULL, OPT_EL0 },
	{ "vm", required_argument, NULL, OPT_VM },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "slide", required_argument, NULL, OPT_SLIDE },
	{ "midr", required_argument, NULL, OPT_MIDR },
	{ "undef", required_argument, NULL, OPT_UNDEF },
	{ "regs-out", required_argument, NULL, OPT_REGS_OUT },
	{ "local", required_argument, NULL, OPT_LOCAL },
	{ "no-reconnect", no_argument, NULL, OPT_NO_RECONNECT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void __attribute__((noreturn, format(printf, 1, 2))) opts_misuse(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, VMM_NAME ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" VMM_NAME " --help'.\n");
	exit(2);
}

/* --help, with the socket this user would connect to (the client library's rule). */
static void opts_help(void)
{
	const char *env = getenv("IDSRD_SOCKET");
	char path[4096], why[512];

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else if (paths_default(PATH_VMM_SOCKET, PATHS_CLIENT, path, sizeof(path), why, sizeof(why)) < 0)
		snprintf(path, sizeof(path), "none: %s", why);
	printf(opts_usage, path);
}

static uint64_t opts_number(const char *flag, const char *arg, int base)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(arg, &end, base);
	if (errno || end == arg || *end || arg[0] == '-') {
		fprintf(stderr, VMM_NAME ": %s: `%s' is not a %s number\n", flag, arg,
			base == 16 ? "hexadecimal" : "non-negative");
		exit(2);
	}
	return n;
}

/* "dir/apple_boot.bin" -> "apple_boot": the default VM name and kernel text. */
static const char *opts_guest_name(const char *path)
{
	static char name[256];
	const char *slash = strrchr(path, '/');
	size_t len;

	snprintf(name, sizeof(name), "%s", slash ? slash + 1 : path);
	len = strlen(name);
	if (len > 4 && !strcmp(name + len - 4, ".bin"))
		name[len - 4] = '\0';
	return name;
}

void opts_parse(int argc, char **argv, struct vmm_opts *o)
{
	int c;

	*o = (struct vmm_opts){ .vcpus = 1, .base = 0x40000000, .mem_mib = 64, .undef = UNDEF_VECTOR };
	while ((c = getopt_long(argc, argv, "h", opts_long, NULL)) != -1) {
		switch (c) {
		case OPT_SOCKET:
			o->socket = optarg;
			break;
		case OPT_VCPUS:
			o->vcpus = (unsigned)opts_number("--vcpus", optarg, 0);
			if (o->vcpus < 1 || o->vcpus > VMM_MAX_VCPUS)
				opts_misuse("--vcpus: `%s' is out of range 1-64", optarg);
			break;
		case OPT_BASE:
			o->base = opts_number("--base", optarg, 0);
			if (o->base & 0xfff)
				opts_misuse("--base: `%s' is not 4 KiB aligned", optarg);
			break;
		case OPT_MEM:
			o->mem_mib = opts_number("--mem", optarg, 0);
			if (o->mem_mib < 1 || o->mem_mib > 4096)
				opts_misuse("--mem: `%s' is out of range 1-4096 MiB", optarg);
			break;
		case OPT_AARCH32:
			o->aarch32 = true;
			break;
		case OPT_EL0:
			o->el0 = true;
			break;
		case OPT_VM:
			o->vm_name = optarg;
			break;
		case OPT_KERNEL:
			o->kernel = optarg;
			break;
		case OPT_SLIDE:
			o->slide = opts_number("--slide", optarg, 0);
			break;
		case OPT_MIDR:
			o->midr = opts_number("--midr", optarg, 16);
			break;
		case OPT_UNDEF:
			if (!strcmp(optarg, "vector"))
				o->undef = UNDEF_VECTOR;
			else if (!strcmp(optarg, "skip"))
				o->undef = UNDEF_SKIP;
			else if (!strcmp(optarg, "stop"))
				o->undef = UNDEF_STOP;
			else
				opts_misuse("--undef: `%s' is not one of vector, skip, stop", optarg);
			break;
		case OPT_REGS_OUT:
			o->regs_out = optarg;
			break;
		case OPT_LOCAL:
			if (strcmp(optarg, "raz"))
				opts_misuse("--local: `%s' is not a known in-process answer (only `raz')", optarg);
			o->local_raz = true;
			break;
		case OPT_NO_RECONNECT:
			o->no_reconnect = true;
			break;
		case 'h':
			opts_help();
			exit(0);
		default:
			fprintf(stderr, "Try '" VMM_NAME " --help'.\n");
			exit(2);
		}
	}
	if (optind != argc - 1)
		opts_misuse("%s", optind == argc ? "no guest binary given (GUEST.bin)"
						 : "more than one guest binary given");
	o->guest = argv[optind];
	if (o->aarch32 && (o->base > UINT32_MAX || o->base + (o->mem_mib << 20) > (1ull << 32)))
		opts_misuse("--aarch32: guest RAM must lie below 4 GiB");
	if (o->local_raz && o->socket)
		opts_misuse("--local raz answers in-process: --socket %s would be unused", o->socket);
	if (!o->vm_name)
		o->vm_name = opts_guest_name(o->guest);
	if (!o->kernel)
		o->kernel = opts_guest_name(o->guest);
}
